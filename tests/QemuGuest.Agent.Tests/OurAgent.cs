using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
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
