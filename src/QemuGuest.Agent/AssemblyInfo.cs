using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("QemuGuest.Agent.Tests")]
