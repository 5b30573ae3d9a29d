using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("QemuGuest.Protocol.Tests")]
