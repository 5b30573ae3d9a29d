using System;
using System.Threading;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// A connection to one guest agent, direct (chardev socket, TCP, named pipe) or through the
/// relay, reused by every cmdlet that is given it. Thread-safe: the client underneath queues
/// concurrent calls in order, so one session works from ForEach-Object -Parallel and thread jobs.
/// </summary>
public sealed class GuestSession : IDisposable
{
    private static int s_nextId;
    private readonly IDisposable? _owner;
    private int _disposed;
    private int _broken;

    internal GuestSession(string name, string? vmName, string connectionString, IGuestAgentChannel channel, IDisposable? owner, bool isTemporary)
    {
        Id = Interlocked.Increment(ref s_nextId);
        Name = name;
        VMName = vmName;
        ConnectionString = connectionString;
        Channel = channel;
        _owner = owner;
        IsTemporary = isTemporary;
        CreatedAt = DateTime.Now;
    }

    /// <summary>Session number, unique in this PowerShell process.</summary>
    public int Id { get; }

    /// <summary>Name given with -Name, or the VM name, or the connection string.</summary>
    public string Name { get; }

    /// <summary>The VM's name when the session targets the relay's endpoint for a VM.</summary>
    public string? VMName { get; }

    /// <summary>Where the agent is: "unix:/path", "tcp:host:port", "pipe:name", ...</summary>
    public string ConnectionString { get; }

    public DateTime CreatedAt { get; }

    /// <summary>The name output objects, errors and progress report for this session: the VM name, else the session name.</summary>
    internal string TargetName => VMName ?? Name;

    /// <summary>
    /// Opened; Broken when the last command through it found the agent gone (connection refused
    /// or lost: the VM stopped, the agent died), as a PSSession whose computer went away; Closed
    /// once removed. A Broken session is still usable: the next command reconnects, and an answer
    /// from the agent (a reply or an agent error) makes it Opened again.
    /// </summary>
    public string State => Volatile.Read(ref _disposed) != 0 ? "Closed" : Volatile.Read(ref _broken) != 0 ? "Broken" : "Opened";

    /// <summary>True for a session a cmdlet opened itself for -VMName; closed when that cmdlet ends.</summary>
    internal bool IsTemporary { get; }

    internal IGuestAgentChannel Channel { get; }

    /// <summary>What was learnt about the agent behind <see cref="Channel"/> (profile, collected exits, code page).</summary>
    internal GuestSessionFacts Facts { get; } = new();

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Records how a command through this session ended (null: it succeeded), for <see cref="State"/>.</summary>
    internal void NoteOutcome(Exception? failure)
    {
        bool gone = false;
        for (Exception? e = failure; e is not null; e = e.InnerException)
        {
            gone |= e is QgaDisconnectedException;
        }
        Volatile.Write(ref _broken, gone ? 1 : 0);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owner?.Dispose();
        }
    }

    public override string ToString() => $"{Name} ({ConnectionString})";
}
