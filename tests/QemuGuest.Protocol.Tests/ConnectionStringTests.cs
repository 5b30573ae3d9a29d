using System;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Tests;

public class ConnectionStringTests
{
    [Theory]
    [InlineData("unix:/run/x.sock", TransportKind.Unix, "unix:/run/x.sock")]
    [InlineData("/run/x.sock", TransportKind.Unix, "unix:/run/x.sock")]
    [InlineData("./qga.sock", TransportKind.Unix, "unix:./qga.sock")]
    [InlineData(@"C:\vm\qga.sock", TransportKind.Unix, @"unix:C:\vm\qga.sock")]
    [InlineData("tcp:host:5555", TransportKind.Tcp, "tcp:host:5555")]
    [InlineData("host:5555", TransportKind.Tcp, "tcp:host:5555")]
    [InlineData("tcp:[::1]:5555", TransportKind.Tcp, "tcp:[::1]:5555")]
    [InlineData("[::1]:5555", TransportKind.Tcp, "tcp:[::1]:5555")]
    [InlineData("TCP:10.0.0.1:1", TransportKind.Tcp, "tcp:10.0.0.1:1")]
    [InlineData("pipe:qga", TransportKind.NamedPipe, "pipe:qga")]
    [InlineData(@"pipe:\\srv\pipe\qga", TransportKind.NamedPipe, @"pipe:\\srv\pipe\qga")]
    [InlineData(@"\\.\pipe\qga", TransportKind.NamedPipe, "pipe:qga")]
    [InlineData("vsock:3:1234", TransportKind.Vsock, "vsock:3:1234")]
    [InlineData("serial:/dev/ttyS1", TransportKind.CharacterDevice, "serial:/dev/ttyS1")]
    [InlineData("/dev/virtio-ports/org.qemu.guest_agent.0", TransportKind.CharacterDevice, "serial:/dev/virtio-ports/org.qemu.guest_agent.0")]
    [InlineData(@"\\.\Global\org.qemu.guest_agent.0", TransportKind.CharacterDevice, @"serial:\\.\Global\org.qemu.guest_agent.0")]
    public void Parses(string text, TransportKind kind, string canonical)
    {
        ConnectionString parsed = ConnectionString.Parse(text);
        Assert.Equal(kind, parsed.Kind);
        Assert.Equal(canonical, parsed.ToString());
        Assert.Equal(canonical, parsed.CreateTransport().Endpoint);
    }

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData("unix:", "no socket path")]
    [InlineData("tcp:host", "tcp:HOST:PORT")]
    [InlineData("tcp:host:0", "tcp:HOST:PORT")]
    [InlineData("tcp:host:70000", "tcp:HOST:PORT")]
    [InlineData("vsock:x:1", "vsock:CID:PORT")]
    [InlineData("vsock:3", "vsock:CID:PORT")]
    [InlineData("pipe:", "pipe:NAME")]
    [InlineData("ftp:thing", "unknown scheme 'ftp:'")]
    [InlineData("qga.sock", "not a path")]
    [InlineData("host:port", "unknown scheme 'host:'")]
    public void Rejects_with_a_message_naming_the_value(string text, string why)
    {
        var ex = Assert.Throws<FormatException>(() => ConnectionString.Parse(text));
        Assert.Contains("'" + text + "'", ex.Message);
        Assert.Contains(why, ex.Message);
    }
}
