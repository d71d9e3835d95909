"""Media helpers: encoding, probing, thumbnails and image decoding shared by every engine."""
