using System;
using System.Collections.Generic;
using System.Linq;

namespace QemuGuest.Protocol.Validation;

/// <summary>
/// The one reading of allow/deny lists, shared by the relay's endpoint policies and the
/// agent's -a/-b (issue 15 item 4: a deny list by spelling missed the extension commands that
/// do the same thing). An entry is
/// <list type="bullet">
/// <item>an exact command name, or a prefix ending in '*'; either also matches a downstream
/// extension by its name after the '__vendor_' prefix, so 'guest-file-*' covers
/// '__com.qemuguest_guest-file-mkdir';</item>
/// <item>'@class', a class of the schema's capabilities side file (info, file-read, file-write,
/// exec, system). In a deny list it refuses every command that has the class; in an allow list it
/// admits a command only when every class the command has is allowed (guest-file-open, which
/// can read and write, needs both '@file-read' and '@file-write').</item>
/// </list>
/// Deny wins over allow; an empty allow list allows everything. An entry that matches no schema
/// command is refused at start (<see cref="EntryProblem"/>): a typo must not leave a hole.
/// </summary>
public sealed class CommandRules
{
    /// <summary>Marks a class entry: "@exec".</summary>
    public const char ClassMarker = '@';

    // Classes whose partial denial by name most likely leaves what the operator meant to refuse.
    private static readonly string[] WarnedClasses = { "exec", "file-write" };

    private readonly string[] _allow;
    private readonly string[] _deny;
    private readonly Dictionary<string, QgaCommandInfo> _commands = new(StringComparer.Ordinal);

    /// <summary>
    /// Rules over <paramref name="commands"/> (the whole schema, not one platform's share, so a
    /// list written for Windows and Linux guests alike is valid on both). Entries are expected
    /// to have passed <see cref="EntryProblem"/>.
    /// </summary>
    public CommandRules(IEnumerable<string> allow, IEnumerable<string> deny, IEnumerable<QgaCommandInfo> commands)
    {
        _allow = allow.ToArray();
        _deny = deny.ToArray();
        foreach (var c in commands)
        {
            _commands[c.Name] = c;
        }
    }

    public IReadOnlyList<string> Allow => _allow;

    public IReadOnlyList<string> Deny => _deny;

    /// <summary>True when the lists let <paramref name="command"/> run.</summary>
    public bool Allows(string command) => !OutsideAllowList(command) && !DenyListed(command);

    /// <summary>True when there is an allow-list and <paramref name="command"/> is not on it.</summary>
    public bool OutsideAllowList(string command)
    {
        _commands.TryGetValue(command, out var info);
        return _allow.Length > 0 && !Covered(command, info);
    }

    /// <summary>True when an entry of the deny-list covers <paramref name="command"/>.</summary>
    public bool DenyListed(string command)
    {
        _commands.TryGetValue(command, out var info);
        foreach (string entry in _deny)
        {
            if (Touches(entry, command, info))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Lists that deny some exec or file-write command by name while another command of the same
    /// class stays allowed (the 'no-exec' that denied guest-exec and let
    /// __com.qemuguest_guest-exec-start run): one line each, for a start-up warning.
    /// </summary>
    public IReadOnlyList<string> Warnings()
    {
        var warnings = new List<string>();
        foreach (string cls in WarnedClasses)
        {
            var deniedByName = new List<string>();
            var stillAllowed = new List<string>();
            foreach (var c in _commands.Values)
            {
                if (!c.HasCapability(cls))
                {
                    continue;
                }
                if (_deny.Any(e => e[0] != ClassMarker && NameMatches(e, c.Name)))
                {
                    deniedByName.Add(c.Name);
                }
                else if (Allows(c.Name))
                {
                    stillAllowed.Add(c.Name);
                }
            }
            if (deniedByName.Count > 0 && stillAllowed.Count > 0)
            {
                warnings.Add("denies " + string.Join(", ", deniedByName) + " by name but still allows " + string.Join(", ", stillAllowed)
                    + ", which can also " + (cls == "exec" ? "run programs" : "change files") + "; deny '" + ClassMarker + cls + "' to refuse every such command");
            }
        }
        return warnings;
    }

    /// <summary>
    /// Null when <paramref name="entry"/> is well-formed and matches at least one of
    /// <paramref name="commands"/>; else why not (the entry shown printable).
    /// </summary>
    public static string? EntryProblem(string? entry, IReadOnlyCollection<QgaCommandInfo> commands)
    {
        string shown = "'" + PathComponent.Printable(entry, 100) + "'";
        if (string.IsNullOrEmpty(entry))
        {
            return "an empty entry must be a command name, a prefix ending in '*', or '@class'";
        }
        if (entry![0] == ClassMarker)
        {
            string cls = entry.Substring(1);
            if (commands.Any(c => c.HasCapability(cls)))
            {
                return null;
            }
            var classes = commands.SelectMany(c => c.Capabilities).Distinct(StringComparer.Ordinal);
            return shown + " names no capability class of the schema (classes: " + string.Join(", ", classes.Select(c => ClassMarker + c)) + ")";
        }
        int star = entry.IndexOf('*');
        if (star >= 0 && star != entry.Length - 1)
        {
            return shown + " must be a command name, a prefix ending in '*', or '@class'";
        }
        foreach (char ch in entry)
        {
            if (ch <= ' ' || ch >= 0x7F || ch == ',' || ch == ';')
            {
                return shown + " must be a command name, a prefix ending in '*', or '@class'";
            }
        }
        if (!commands.Any(c => NameMatches(entry, c.Name)))
        {
            return shown + " matches no command of the schema";
        }
        return null;
    }

    // Allow lists: a name entry admits the command, class entries must admit all of its classes.
    private bool Covered(string command, QgaCommandInfo? info)
    {
        foreach (string entry in _allow)
        {
            if (entry[0] != ClassMarker && NameMatches(entry, command))
            {
                return true;
            }
        }
        if (info is null || info.Capabilities.Count == 0)
        {
            return false;
        }
        foreach (string cls in info.Capabilities)
        {
            if (Array.IndexOf(_allow, ClassMarker + cls) < 0)
            {
                return false;
            }
        }
        return true;
    }

    // Deny lists: any matching name or any shared class refuses.
    private static bool Touches(string entry, string command, QgaCommandInfo? info) =>
        entry[0] == ClassMarker ? info is not null && info.HasCapability(entry.Substring(1)) : NameMatches(entry, command);

    private static bool NameMatches(string pattern, string command)
    {
        if (Matches(pattern, command))
        {
            return true;
        }
        string? stem = ExtensionStem(command);
        return stem is not null && Matches(pattern, stem);
    }

    private static bool Matches(string pattern, string name) =>
        pattern.EndsWith("*", StringComparison.Ordinal)
            ? name.StartsWith(pattern.Substring(0, pattern.Length - 1), StringComparison.Ordinal)
            : pattern == name;

    /// <summary>"guest-file-mkdir" for "__com.qemuguest_guest-file-mkdir" (QAPI's '__RFQDN_' downstream prefix); null otherwise.</summary>
    private static string? ExtensionStem(string command)
    {
        if (!command.StartsWith("__", StringComparison.Ordinal))
        {
            return null;
        }
        int underscore = command.IndexOf('_', 2);
        return underscore > 2 && underscore < command.Length - 1 ? command.Substring(underscore + 1) : null;
    }
}
