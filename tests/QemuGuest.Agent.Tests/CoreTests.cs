using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Platform.Linux;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Tests;

public sealed class CoreTests
{
    [Fact]
    public void PersistentStateLikeQemuGa()
    {
        string dir = Directory.CreateTempSubdirectory("qga-state-").FullName;
        try
        {
            var s = new PersistentState(Path.Combine(dir, "qga.state"));
            Assert.Null(s.Load(false));
            Assert.Equal("[global]\nfd_counter=1000\n", File.ReadAllText(s.FilePath));
            Assert.Equal(1000, s.NextHandle());
            Assert.Equal(1001, s.NextHandle());
            var again = new PersistentState(s.FilePath);
            Assert.Null(again.Load(false));
            Assert.Equal(1002, again.NextHandle());
            File.WriteAllText(s.FilePath, "[global]\n");
            Assert.Null(again.Load(false));
            Assert.Equal(1000, again.FdCounter);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void PolicyOrder()
    {
        var p = new CommandGate(new[] { "guest-ping", "guest-info" }, new[] { "guest-info" }, null);
        Assert.True(p.IsEnabled("guest-ping"));
        Assert.False(p.IsEnabled("guest-info"));
        Assert.False(p.IsEnabled("guest-exec"));
        var open = new CommandGate(Array.Empty<string>(), Array.Empty<string>(), null);
        open.SetFrozen();
        Assert.True(open.IsEnabled("guest-sync"));
        Assert.False(open.IsEnabled("guest-exec"));
        open.UnsetFrozen();
        Assert.True(open.IsEnabled("guest-exec"));
    }

    [Theory]
    [InlineData("{'execute':'guest-ping'}", "{\"execute\":\"guest-ping\"}")]
    [InlineData("{'a':'say \"hi\"'}", "{\"a\":\"say \\\"hi\\\"\"}")]
    [InlineData("{'a':'it\\'s'}", "{\"a\":\"it's\"}")]
    [InlineData("{\"a\":\"it's\"}", "{\"a\":\"it's\"}")]
    public void SingleQuotes(string input, string expected) =>
        Assert.Equal(expected, Encoding.UTF8.GetString(QemuJsonDialect.ToStandardJson(Encoding.UTF8.GetBytes(input))));

    [Fact]
    public void Base64LikeQemu()
    {
        Assert.Equal("", Encoding.ASCII.GetString(QemuBase64.Decode("aGk"))); // GLib drops a partial group
        Assert.Equal("hi", Encoding.ASCII.GetString(QemuBase64.Decode("a\nGk=")));
        Assert.Equal("Base64 data contains invalid characters", Assert.Throws<AgentCommandException>(() => QemuBase64.Decode("a b")).Message);
        Assert.Equal("Base64 data contains embedded NUL characters", Assert.Throws<AgentCommandException>(() => QemuBase64.Decode("a\0")).Message);
        Gen.Byte.Array[0, 300].Sample(bytes => QemuBase64.Decode(Convert.ToBase64String(bytes)).AsSpan().SequenceEqual(bytes));
    }

    [Fact]
    public void OsReleaseUnquoting()
    {
        var kv = SysText.ParseOsRelease("VARIANT=\"Unit test \\\"\\'\\$\\`\\\\ and \\\\\\\\ etc.\"\nID=x\n# c\nNAME='a b'\n");
        Assert.Equal("Unit test \"'$`\\ and \\\\ etc.", kv["VARIANT"]);
        Assert.Equal("x", kv["ID"]);
        Assert.Equal("a b", kv["NAME"]);
    }

    [Fact]
    public void OutputBufferCapsAndDrains()
    {
        var b = new ExecOutputBuffer(10, streamed: false);
        b.Append(new byte[7]);
        b.Append(new byte[7]);
        Assert.True(b.Truncated);
        Assert.Equal(10, b.Take(-1).Length);
    }

    [Fact]
    public void RouteAddressDecoding()
    {
        Assert.Equal("192.0.2.1", LinuxCommandHandler.HexIPv4("010200C0"));
        Assert.Equal("::1", LinuxCommandHandler.HexIPv6("00000000000000000000000000000001"));
    }

    [Fact]
    public void DiskAddressFromSysfsPath()
    {
        var a = LinuxCommandHandler.AddressOf("/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda")!;
        Assert.Equal(GuestDiskBusType.Virtio, a.BusType);
        Assert.Equal(2, a.PciController.Slot);
        var s = LinuxCommandHandler.AddressOf("/sys/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:1/0:0:1:3/block/sda")!;
        Assert.Equal(GuestDiskBusType.Scsi, s.BusType);
        Assert.Equal(1, s.Target);
        Assert.Equal(3, s.Unit);
        Assert.Null(LinuxCommandHandler.AddressOf("/sys/devices/virtual/block/loop0"));
    }

    /// <summary>A command that throws unexpectedly becomes an error reply; the next request still works.</summary>
    [Fact]
    public async Task OneFailingCommandNeverStopsTheLoop()
    {
        var processor = new RequestProcessor(new ThrowingDispatcher(), new CommandGate(Array.Empty<string>(), Array.Empty<string>(), null), NullLogger.Instance);
        using var writer = new JsonMessageWriter();
        string reply = Encoding.ASCII.GetString((await processor.ProcessAsync(Encoding.ASCII.GetBytes("{\"execute\":\"boom\",\"id\":1}"), writer, default)).Span);
        Assert.Contains("\"class\":\"GenericError\"", reply);
        Assert.Contains("\"id\":1", reply);
        reply = Encoding.Latin1.GetString((await processor.ProcessAsync(Encoding.ASCII.GetBytes("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":5}}"), writer, default)).Span);
        Assert.Equal("\u00FF{\"return\":{}}\n".Length, reply.Length);
        Assert.Equal(0xFF, (int)reply[0]);
        Assert.True((await processor.ProcessAsync(Encoding.ASCII.GetBytes("{\"execute\":\"quiet\"}"), writer, default)).IsEmpty);
    }

    private sealed class ThrowingDispatcher : IAgentDispatcher
    {
        public IReadOnlyList<AgentCommandInfo> Commands { get; } = new[] { new AgentCommandInfo("boom", true), new AgentCommandInfo("guest-sync-delimited", true), new AgentCommandInfo("quiet", false) };

        public bool TryGetCommand(string name, out AgentCommandInfo info)
        {
            info = Commands.FirstOrDefault(c => c.Name == name)!;
            return info is not null;
        }

        public ValueTask DispatchAsync(string name, JsonElement arguments, Utf8JsonWriter writer, CancellationToken cancellationToken)
        {
            if (name == "boom")
            {
                throw new NullReferenceException("bug");
            }

            writer.WriteStartObject();
            writer.WriteEndObject();
            return ValueTask.CompletedTask;
        }
    }
}
