using System;
using System.Diagnostics;
using System.Runtime;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Transfer;
using Xunit.Abstractions;

namespace QemuGuest.Protocol.Tests;

/// <summary>Process-wide allocation figures are only meaningful while nothing else runs.</summary>
[CollectionDefinition(nameof(HostileAgentClientTests), DisableParallelization = true)]
public sealed class HostileAgentClientCollection
{
}
