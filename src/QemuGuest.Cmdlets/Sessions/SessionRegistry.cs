using System;
using System.Collections.Generic;
using System.Linq;

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
}
