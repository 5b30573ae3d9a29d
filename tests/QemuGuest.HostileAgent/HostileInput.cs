using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>One hostile thing a client can send to an agent or to the relay.</summary>
/// <param name="Name">Short name for reports.</param>
/// <param name="WriteAsync">Writes the input; the peer may close on us half-way (callers ignore write errors).</param>
public sealed record HostileInput(string Name, Func<Stream, CancellationToken, Task> WriteAsync)
{
    public override string ToString() => Name;
}
