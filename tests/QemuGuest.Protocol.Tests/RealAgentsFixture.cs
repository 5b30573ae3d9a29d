using System;
using System.Collections.Generic;
using System.IO;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Tests;

/// <summary>Debian's qemu-ga and our agent side by side, each a real process on its own socket, for the process-engine tests.</summary>
public sealed class RealAgentsFixture : IDisposable
{
    private readonly Dictionary<AgentKind, RealAgentProcess> _agents = new();

    public RealAgentsFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "qgproc-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        System.IO.Directory.CreateDirectory(Directory);
        foreach (AgentKind kind in new[] { AgentKind.Stock, AgentKind.Ours })
        {
            string state = Path.Combine(Directory, kind + "-state");
            System.IO.Directory.CreateDirectory(state);
            var agent = RealAgentProcess.Start(kind, Path.Combine(Directory, kind + ".sock"), state);
            _agents[kind] = agent;
            agent.WaitUntilListening();
        }
    }

    /// <summary>A folder the agents' programs may use (same machine: the "guest" is this host).</summary>
    public string Directory { get; }

    /// <summary>The agent's process id (to look at what it holds, e.g. /proc/PID/fdinfo).</summary>
    public int ProcessId(AgentKind kind) => _agents[kind].Process.Id;

    public GuestAgentClient CreateClient(AgentKind kind) =>
        new("unix:" + _agents[kind].SocketPath, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20) });

    public void Dispose()
    {
        foreach (RealAgentProcess agent in _agents.Values)
        {
            agent.Dispose();
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
