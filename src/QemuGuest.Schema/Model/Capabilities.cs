namespace QemuGuest.Schema;

// The capabilities side file: what each command can do, for relay policies and the agent's
// allow/block lists ('@exec' names a class). It sits next to the root QAPI file
// (schema/qga.capabilities.json for schema/qga.json) so that the QAPI files carry only what
// QEMU's own scripts/qapi accepts. Same single-quoted JSON syntax; one expression per class:
//
//   { 'capability': 'exec',
//     'doc': 'runs programs in the guest (as the agent user)',
//     'commands': [ 'guest-exec', 'guest-exec-status' ] }
//
// Every command of the schema is listed under one class at least (a command that can both read
// and write is under both); a name that is not a command, a class declared twice, or a command
// listed twice in one class is an error. A command's classes come in the file's class order.

/// <summary>One class of what a command can do, in the order the side file declares them.</summary>
public sealed record QapiCapabilityClass(
    string Name,
    SourceLocation Location,
    string Doc,
    EquatableArray<string> Commands);
