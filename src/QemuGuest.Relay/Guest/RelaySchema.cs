using System.Collections.Generic;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Relay.Guest;

/// <summary>
/// The schema as the relay sees it: the generated descriptor tables behind the generated
/// validator. The relay has no per-command code; everything it knows about a command
/// (argument type, return type, success-response) comes from here.
/// </summary>
public sealed class RelaySchema
{
    private readonly List<QgaCommandDescriptor> _commands;

    public RelaySchema(IEnumerable<QgaCommandDescriptor> commands)
    {
        _commands = new List<QgaCommandDescriptor>(commands);
        _commands.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        Validator = new SchemaValidator(_commands);
    }

    public SchemaValidator Validator { get; }

    public IReadOnlyList<QgaCommandDescriptor> Commands => _commands;

    public QgaCommandDescriptor? Find(string name) => Validator.Find(name);

    /// <summary>The commands a client's sync is answered locally for: the schema's sync pair.</summary>
    public static bool IsSync(string name) => name is "guest-sync" or "guest-sync-delimited";
}
