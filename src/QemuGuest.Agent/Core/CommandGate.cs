using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Core;

/// <summary>
/// Which commands run: qemu-ga's ga_command_is_allowed. An allow-list (if any) switches the
/// default to deny; the block-list then wins over it; while filesystems are frozen only the
/// freeze-safe set runs, whatever the lists say. Beyond qemu-ga, list entries may be prefixes
/// ending in '*' and '@class' (the schema's capability classes, e.g. -b @exec), read by the
/// relay's reader (<see cref="CommandRules"/>), and an entry matching no command is a start-up
/// error (<see cref="ListProblem"/>) rather than silently nothing. The frozen flag is mirrored in
/// STATEDIR/qga.state.isfrozen so a restarted agent keeps the gate closed.
/// </summary>
public sealed class CommandGate
{
    /// <summary>
    /// Commands that stay enabled while frozen: qemu-ga's ga_freeze_allowlist plus our
    /// capabilities extension (read-only, documented as working while frozen).
    /// </summary>
    public static readonly IReadOnlyList<string> FreezeSafe = new[]
    {
        "guest-ping",
        "guest-info",
        "guest-sync",
        "guest-sync-delimited",
        "guest-fsfreeze-status",
        "guest-fsfreeze-thaw",
        "__com.qemuguest_guest-agent-capabilities",
    };

    private readonly CommandRules _rules;
    private readonly string? _frozenMarkerPath;
    private int _frozen;

    public CommandGate(IEnumerable<string> allowed, IEnumerable<string> blocked, string? frozenMarkerPath)
    {
        _rules = new CommandRules(allowed, blocked, QgaCommandTable.All);
        _frozenMarkerPath = frozenMarkerPath;
        _frozen = frozenMarkerPath is not null && File.Exists(frozenMarkerPath) ? 1 : 0;
    }

    /// <summary>True when the previous instance left the frozen marker behind (or we froze).</summary>
    public bool IsFrozen => Volatile.Read(ref _frozen) != 0;

    /// <summary>
    /// The reply text for a disabled command: "Command X has been disabled", with ": the agent
    /// is in frozen state" appended while frozen (qemu-ga 7.2, the differential suite's
    /// reference), nothing more for the block-list (7.2), and ": the command is not allowed"
    /// for a command left off the allow-list (the text of QEMU 8.1, which brought -a; 7.2 has
    /// no -a).
    /// </summary>
    public string DisabledDescription(string command)
    {
        string text = QemuGuest.Protocol.Marshalling.QapiErrorTexts.CommandDisabled(command);
        if (IsFrozen && !IsFreezeSafe(command))
        {
            return text + ": the agent is in frozen state";
        }

        return _rules.OutsideAllowList(command) && !_rules.DenyListed(command) ? text + ": the command is not allowed" : text;
    }

    private static bool IsFreezeSafe(string command)
    {
        foreach (string safe in FreezeSafe)
        {
            if (safe == command)
            {
                return true;
            }
        }

        return false;
    }

    public bool IsEnabled(string command)
    {
        bool allowed = _rules.Allows(command);

        if (IsFrozen)
        {
            allowed = false;
            foreach (string safe in FreezeSafe)
            {
                if (safe == command)
                {
                    allowed = true;
                }
            }
        }

        return allowed;
    }

    /// <summary>
    /// The first -a/-b entry that is malformed, names no capability class or matches no command
    /// of the schema (any platform's), as "-b: reason"; null when all are usable.
    /// </summary>
    public static string? ListProblem(IEnumerable<string> allowed, IEnumerable<string> blocked)
    {
        foreach (var (option, list) in new[] { ("-a/allow-rpcs", allowed), ("-b/block-rpcs", blocked) })
        {
            foreach (string entry in list)
            {
                string? problem = CommandRules.EntryProblem(entry, (IReadOnlyCollection<QgaCommandInfo>)QgaCommandTable.All);
                if (problem is not null)
                {
                    return option + ": " + problem;
                }
            }
        }

        return null;
    }

    /// <summary>Block lists that leave exec or file-write commands allowed (see <see cref="CommandRules.Warnings"/>).</summary>
    public IReadOnlyList<string> Warnings() => _rules.Warnings();

    /// <summary>ga_set_frozen: closes the gate and writes the marker (best effort, like qemu-ga).</summary>
    public void SetFrozen()
    {
        if (Interlocked.Exchange(ref _frozen, 1) == 1 || _frozenMarkerPath is null)
        {
            return;
        }

        try
        {
            if (OperatingSystem.IsLinux())
            {
                Platform.Linux.PosixFs.CreateMarker(_frozenMarkerPath); // never through a link planted at the name
            }
            else
            {
                using (File.Open(_frozenMarkerPath, FileMode.OpenOrCreate, FileAccess.Write))
                {
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or AgentCommandException)
        {
            // qemu-ga only warns: "unable to create ..., fsfreeze may not function properly"
        }
    }

    /// <summary>ga_unset_frozen: reopens the gate and removes the marker.</summary>
    public void UnsetFrozen()
    {
        if (Interlocked.Exchange(ref _frozen, 0) == 0 || _frozenMarkerPath is null)
        {
            return;
        }

        try
        {
            File.Delete(_frozenMarkerPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
