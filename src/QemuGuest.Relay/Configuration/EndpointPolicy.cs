using System;
using System.Collections.Generic;
using System.Linq;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Relay.Configuration;

/// <summary>
/// Which commands an endpoint passes on: allow-list then deny-list, deny wins, like the
/// agent's own -a/-b, read by the shared <see cref="CommandRules"/> (names, prefixes ending in
/// '*', and '@class' for the schema's capability classes). A refused command gets the agent's
/// own "Command X has been disabled". No entry names a command's arguments: the policy is
/// schema-agnostic.
/// </summary>
public sealed class EndpointPolicy
{
    /// <summary>The built-in policy name: queries only.</summary>
    public const string ReadOnlyName = "read-only";

    /// <summary>The built-in policy name: everything but running programs.</summary>
    public const string NoExecName = "no-exec";

    private readonly CommandRules _rules;

    public EndpointPolicy(string name, IEnumerable<string> allow, IEnumerable<string> deny)
    {
        Name = name;
        _rules = new CommandRules(allow, deny, SchemaCommands);
    }

    public string Name { get; }

    /// <summary>Every command of the schema, what policy entries are checked against.</summary>
    public static IReadOnlyList<QgaCommandInfo> SchemaCommands { get; } = QgaSchemaDescriptors.Commands.Select(c => c.Info).ToArray();

    /// <summary>Every command allowed.</summary>
    public static EndpointPolicy Unrestricted { get; } = new("", Array.Empty<string>(), Array.Empty<string>());

    /// <summary>
    /// The built-in policies, by what commands can do rather than by their spelling (issue 15:
    /// a deny list of names missed the extension's exec and file commands). read-only: commands
    /// of class info only — no exec, no file handles (opening for read shares handles and modes
    /// with writes), no setters, freeze, shutdown or suspend. no-exec: nothing that runs a program.
    /// </summary>
    public static IReadOnlyDictionary<string, PolicyOptions> BuiltIn { get; } = new Dictionary<string, PolicyOptions>(StringComparer.Ordinal)
    {
        [ReadOnlyName] = new() { Allow = { CommandRules.ClassMarker + "info" } },
        [NoExecName] = new() { Deny = { CommandRules.ClassMarker + "exec" } },
    };

    public IReadOnlyList<string> Allow => _rules.Allow;

    public IReadOnlyList<string> Deny => _rules.Deny;

    public bool Allows(string command) => _rules.Allows(command);

    /// <summary>Start-up warnings for this policy (see <see cref="CommandRules.Warnings"/>).</summary>
    public IReadOnlyList<string> Warnings() => _rules.Warnings();

    /// <summary>A configured policy, else a built-in one (configuration may override a built-in name).</summary>
    public static bool TryFind(RelayOptions options, string name, out PolicyOptions policy)
    {
        if (options.Policies.TryGetValue(name, out policy!))
        {
            return true;
        }

        return BuiltIn.TryGetValue(name, out policy!);
    }

    public static EndpointPolicy Resolve(RelayOptions options, string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return Unrestricted;
        }

        if (TryFind(options, name, out var p))
        {
            return new EndpointPolicy(name, p.Allow, p.Deny);
        }

        throw new InvalidOperationException($"unknown policy '{name}'");
    }
}
