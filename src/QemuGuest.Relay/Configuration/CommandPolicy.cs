using System;
using System.Collections.Generic;

namespace QemuGuest.Relay.Configuration;

/// <summary>
/// Which commands an endpoint passes on: allow-list then deny-list, deny wins, like the
/// agent's own -a/-b. A refused command gets the agent's own "Command X has been disabled".
/// Entries are exact names or prefixes ending in '*'. No entry names a command's arguments:
/// the policy is schema-agnostic.
/// </summary>
public sealed class CommandPolicy
{
    /// <summary>The built-in policy name: queries only.</summary>
    public const string ReadOnlyName = "read-only";

    private readonly string[] _allow;
    private readonly string[] _deny;

    public CommandPolicy(string name, IEnumerable<string> allow, IEnumerable<string> deny)
    {
        Name = name;
        _allow = new List<string>(allow).ToArray();
        _deny = new List<string>(deny).ToArray();
    }

    public string Name { get; }

    /// <summary>Every command allowed.</summary>
    public static CommandPolicy Unrestricted { get; } = new("", Array.Empty<string>(), Array.Empty<string>());

    /// <summary>
    /// The built-in read-only policy: commands that only read guest state. No guest-exec, no
    /// file handle commands (opening for read can create or truncate with another mode), no
    /// setters, freeze, shutdown or suspend.
    /// </summary>
    public static PolicyOptions ReadOnlyDefaults => new()
    {
        Allow =
        {
            "guest-sync", "guest-sync-delimited", "guest-ping", "guest-info", "guest-get-*",
            "guest-network-get-*", "guest-fsfreeze-status", "guest-ssh-get-authorized-keys",
        },
    };

    public IReadOnlyList<string> Allow => _allow;

    public IReadOnlyList<string> Deny => _deny;

    public bool Allows(string command)
    {
        if (_allow.Length > 0 && !Matches(_allow, command))
        {
            return false;
        }

        return !Matches(_deny, command);
    }

    public static CommandPolicy Resolve(RelayOptions options, string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return Unrestricted;
        }

        if (options.Policies.TryGetValue(name, out var p))
        {
            return new CommandPolicy(name, p.Allow, p.Deny);
        }

        if (name == ReadOnlyName)
        {
            var d = ReadOnlyDefaults;
            return new CommandPolicy(name, d.Allow, d.Deny);
        }

        throw new InvalidOperationException($"unknown policy '{name}'");
    }

    private static bool Matches(string[] patterns, string command)
    {
        foreach (var p in patterns)
        {
            if (p.EndsWith('*') ? command.StartsWith(p.AsSpan(0, p.Length - 1), StringComparison.Ordinal) : p == command)
            {
                return true;
            }
        }

        return false;
    }
}
