using System;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>Our agent and Debian's qemu-ga, both in unix-listen mode, side by side.</summary>
public sealed class AgentPair : IDisposable
{
    public AgentPair()
    {
        Stock = new AgentProcess(AgentKind.Stock);
        Ours = new AgentProcess(AgentKind.Ours);
    }

    public AgentProcess Stock { get; }

    public AgentProcess Ours { get; }

    public object Gate { get; } = new();

    public void Dispose()
    {
        Stock.Dispose();
        Ours.Dispose();
    }
}
