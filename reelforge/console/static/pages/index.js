// Every console page, in navigation order: {path, title, admin?, render(view, ctx)}.

import overview from "./overview.js";

export const PAGES = [overview];
