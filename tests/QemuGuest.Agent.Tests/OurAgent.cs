using System;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>Our agent in unix-listen mode, shared by the behaviour tests.</summary>
public sealed class OurAgent : IDisposable
{
    public OurAgent() => Agent = new AgentProcess(AgentKind.Ours);

    public AgentProcess Agent { get; }

    public object Gate { get; } = new();

    public void Dispose() => Agent.Dispose();
}
