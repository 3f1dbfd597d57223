import { serve } from "../../runtime/serve.ts";
import { createApp } from "./app.ts";

await serve(await createApp(process.env), { handleSignals: true });
