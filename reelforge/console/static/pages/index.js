// Every console page, in navigation order: {path, title, admin?, render(view, ctx)}.

import admin from "./admin.js";
import credits from "./credits.js";
import gallery from "./gallery.js";
import jobs from "./jobs.js";
import overview from "./overview.js";
import playground from "./playground.js";
import tokens from "./tokens.js";
import webhooks from "./webhooks.js";

export const PAGES = [overview, playground, jobs, gallery, tokens, credits, webhooks, admin];
