using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("QemuGuest.Agent.Tests")]
[assembly: InternalsVisibleTo("QemuGuest.Benchmarks")]
