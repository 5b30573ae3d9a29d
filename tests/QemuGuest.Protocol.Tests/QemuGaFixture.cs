using System;
using System.Collections.Generic;
using System.IO;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// Debian's qemu-ga on the host (<see cref="RealAgentProcess"/>): <c>-m unix-listen -p DIR/qga.sock
/// -t DIR/state -l DIR/qga.log</c>, restartable in the same folder for the reconnect tests.
/// </summary>
public class QemuGaFixture : IDisposable
{
    private readonly IDictionary<string, string>? _environment;
    private RealAgentProcess? _process;

    public QemuGaFixture()
        : this(null)
    {
    }

    /// <param name="environment">variables the agent (and so every program guest-exec starts) gets</param>
    protected QemuGaFixture(IDictionary<string, string>? environment)
    {
        _environment = environment;
        Directory = Path.Combine(Path.GetTempPath(), "qgtest-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        System.IO.Directory.CreateDirectory(Directory);
        System.IO.Directory.CreateDirectory(StateDirectory);
        Start();
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "qga.sock");

    public string StateDirectory => Path.Combine(Directory, "state");

    public string LogPath => Path.Combine(Directory, "qga.log");

    public string ConnectionString => "unix:" + SocketPath;

    public int ProcessId => _process?.Process.Id ?? 0;

    public GuestAgentClient CreateClient(GuestAgentClientOptions? options = null) =>
        new(ConnectionString, options ?? new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20) });

    public void Start()
    {
        if (File.Exists(SocketPath))
        {
            File.Delete(SocketPath);
        }

        _process = RealAgentProcess.Start(AgentKind.Stock, SocketPath, StateDirectory, new[] { "-l", LogPath }, _environment);
        try
        {
            _process.WaitUntilListening();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new InvalidOperationException(e.Message + " " + ReadLog(), e);
        }
    }

    public void Kill()
    {
        RealAgentProcess? process = _process;
        _process = null;
        process?.Dispose();
    }

    public string ReadLog()
    {
        try
        {
            return File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        Kill();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
