#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerBuildCommand } from "./commands/build.ts";
import { registerDeployCommands } from "./commands/deploy.ts";
import { registerDevCommand } from "./commands/dev.ts";
import { registerDlqCommand } from "./commands/dlq.ts";
import { registerImageCommand } from "./commands/image.ts";
import { registerInvokeCommand } from "./commands/invoke.ts";
import { registerPairingCommand } from "./commands/pairing.ts";
import { registerRenderCommand } from "./commands/render.ts";
import { registerRunsCommand } from "./commands/runs.ts";
import { registerSecretsCommand } from "./commands/secrets.ts";
import { registerSendCommand } from "./commands/send.ts";
import { registerSkillsCommand } from "./commands/skills.ts";
import { registerValidateCommand } from "./commands/validate.ts";

const program = new Command("knclaw")
  .description("Run fleets of AI agents as event-driven functions on Knative, or on one machine with `knclaw dev`")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

registerDevCommand(program);
registerRenderCommand(program);
registerDeployCommands(program);
registerValidateCommand(program);
registerSendCommand(program);
registerSkillsCommand(program);
registerPairingCommand(program);
registerDlqCommand(program);
registerInvokeCommand(program);
registerRunsCommand(program);
registerSecretsCommand(program);
registerBuildCommand(program);
registerImageCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // Errors from commands are meant for operators: print the message, not a stack trace.
  console.error(`knclaw: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
