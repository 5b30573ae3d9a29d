using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// The sessions opened with New-VMGuestSession in this process (all runspaces share them, like
/// CIM sessions, so ForEach-Object -Parallel can use a session created outside it).
/// </summary>
internal static class SessionRegistry
{
    private static readonly object s_gate = new();
    private static readonly List<GuestSession> s_sessions = new();

    public static void Add(GuestSession session)
    {
        lock (s_gate)
        {
            s_sessions.Add(session);
        }
    }

    public static bool Remove(GuestSession session)
    {
        lock (s_gate)
        {
            return s_sessions.Remove(session);
        }
    }

    public static IReadOnlyList<GuestSession> Snapshot()
    {
        lock (s_gate)
        {
            return s_sessions.ToArray();
        }
    }

    /// <summary>An open session whose Name or VMName is <paramref name="name"/> (case-insensitive), or null.</summary>
    public static GuestSession? FindByName(string name)
    {
        lock (s_gate)
        {
            return s_sessions.FirstOrDefault(s => !s.IsDisposed &&
                (string.Equals(s.VMName, name, StringComparison.OrdinalIgnoreCase) ||
                 string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)));
        }
    }

    /// <summary>
    /// The open sessions chosen by id or by name (session or VM name, wildcards allowed), in
    /// registry order, each once: what Get-VMGuestSession lists and Remove-VMGuestSession
    /// closes. An id, or a name without wildcards, that matches nothing is a SessionNotFound
    /// error; a pattern that matches nothing is not (as Get-ChildItem's filters).
    /// </summary>
    public static List<GuestSession> Select(IEnumerable<int>? ids, IEnumerable<string>? names, Action<ErrorRecord> writeError)
    {
        var sessions = Snapshot();
        var chosen = new List<GuestSession>();
        foreach (var id in ids ?? Array.Empty<int>())
        {
            var match = sessions.FirstOrDefault(s => s.Id == id);
            if (match is null)
            {
                writeError(ErrorTable.Create(ErrorTable.SessionNotFound, ErrorCategory.ObjectNotFound, $"No session with Id {id}.", id));
            }
            else if (!chosen.Contains(match))
            {
                chosen.Add(match);
            }
        }
        foreach (var pattern in names ?? Array.Empty<string>())
        {
            var wildcard = WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase);
            bool any = false;
            foreach (var s in sessions)
            {
                if (wildcard.IsMatch(s.Name) || (s.VMName is not null && wildcard.IsMatch(s.VMName)))
                {
                    any = true;
                    if (!chosen.Contains(s))
                    {
                        chosen.Add(s);
                    }
                }
            }
            if (!any && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                writeError(ErrorTable.Create(ErrorTable.SessionNotFound, ErrorCategory.ObjectNotFound,
                    $"No session named '{QemuGuest.Protocol.GuestText.Quoted(pattern)}'.", pattern));
            }
        }
        return chosen;
    }
}
