using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Platform.Linux;

namespace QemuGuest.Agent.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AgentSafetyCollection
{
    public const string Name = "agent safety (shared guest user)";
}
