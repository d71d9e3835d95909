// The playground's request as other clients send it: curl, the Python SDK, the openai SDK, an MCP call.
// Secrets are never pasted in: each snippet reads the key from an environment variable.

const KEY_VAR = "REELFORGE_API_KEY";
const TOKEN_VAR = "AVS_TOKEN";

const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
const py = (value, indent = 0) =>
  JSON.stringify(value, null, 4)
    .replace(/\btrue\b/g, "True")
    .replace(/\bfalse\b/g, "False")
    .replace(/\bnull\b/g, "None")
    .replace(/\n/g, `\n${" ".repeat(indent)}`);
/** Data URIs are shortened in snippets: they can be megabytes. */
const short = (value) =>
  JSON.parse(JSON.stringify(value), (k, v) => (typeof v === "string" && v.startsWith("data:") ? `${v.slice(0, 40)}…` : v));

export function curl(origin, model, body) {
  const auth = model.create.auth === "avs_token" ? TOKEN_VAR : KEY_VAR;
  return [
    `curl -s -X ${model.create.method} ${origin}${model.create.path} \\`,
    `  -H "authorization: Bearer $${auth}" \\`,
    `  -H 'content-type: application/json' \\`,
    `  -d ${q(JSON.stringify(short(body)))}`,
  ].join("\n");
}

export function python(origin, model, body) {
  if (model.create.dialect === "aivideomaker") {
    return [
      "import os",
      "from reelforge.client import Client",
      "",
      `client = Client(base_url=${py(origin)}, api_key=os.environ["${KEY_VAR}"])`,
      `task = client.generate(${py(model.name)}, ${py(short(body), 0)}, "video.mp4")`,
      'print(task["status"], task["id"])',
    ].join("\n");
  }
  const auth = model.create.auth === "avs_token" ? TOKEN_VAR : KEY_VAR;
  return [
    "import os, httpx",
    "",
    "# The SDK's Client speaks the AIVideoMaker routes; this model's route is called directly:",
    `answer = httpx.post(`,
    `    ${py(origin + model.create.path)},`,
    `    headers={"authorization": f"Bearer {os.environ['${auth}']}"},`,
    `    json=${py(short(body), 4)},`,
    `)`,
    "print(answer.json())",
  ].join("\n");
}

const SIZES = { "16:9": "1280x720", "9:16": "720x1280", "1:1": "720x720" };

export function openai(origin, model, body) {
  if (!model.openai) return `# ${model.name} is not offered through /v1/videos (a ${model.kind} model).`;
  const seconds = body.seconds ?? body.duration ?? body.options?.duration ?? model.durations[0];
  const lines = [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${py(origin + "/v1")}, api_key=os.environ["${KEY_VAR}"])`,
    "video = client.videos.create(",
    `    model=${py(model.name)},`,
    `    prompt=${py(body.prompt ?? "")},`,
  ];
  if (seconds) lines.push(`    seconds=${py(String(seconds))},`);
  const ratio = body.aspectRatio ?? body.options?.aspectRatio;
  if (body.size) lines.push(`    size=${py(body.size)},`);
  else if (ratio && SIZES[ratio]) lines.push(`    size=${py(SIZES[ratio])},`);
  const extra = {};
  for (const name of ["num_frames", "frame_rate", "width", "height", "image", "mode", "seed", "negative_prompt"])
    if (body[name] !== undefined) extra[name] = body[name];
  if (body.extra_body) extra.extra_body = body.extra_body;
  if (Object.keys(extra).length) lines.push(`    extra_body=${py(short(extra), 4)},`);
  if (model.kind === "image_to_video") lines.push("    # input_reference=open('first-frame.png', 'rb'),  # the image");
  lines.push(")", "video = client.videos.poll(video.id)", "print(video.status)");
  return lines.join("\n");
}

export function mcp(model, body) {
  if (!model.mcpTool) return `# No MCP tool creates ${model.name}: use the HTTP API.`;
  let args;
  if (model.mcpTool === "render_template") {
    args = { template: body.template ?? {}, output: body.output ?? {} };
  } else {
    const options = {};
    const ratio = body.aspectRatio ?? body.options?.aspectRatio;
    const duration = body.duration ?? body.options?.duration;
    const seed = body.seed ?? body.options?.seed;
    if (ratio) options.aspectRatio = ratio;
    if (duration) options.duration = Number(duration);
    if (seed !== undefined) options.seed = seed;
    const prompt = Array.isArray(body.prompt) ? body.prompt.join(" ") : body.prompt;
    args = { prompt: prompt ?? "", model: model.name };
    const images = body.image ? [body.image] : body.imageInput;
    if (images?.length) args.imageInput = images;
    if (body.videoInput?.length) args.videoInput = body.videoInput;
    if (Object.keys(options).length) args.options = options;
  }
  return JSON.stringify(
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: model.mcpTool, arguments: short(args) } },
    null,
    2,
  );
}
