using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// A client that takes no reply bytes. The relay sends a reply from the guest link's reader
/// thread only as far as the client's socket takes it at once; the rest is written by that
/// client's own session, so the VM's reader goes on serving everyone else (a reader that waited
/// for this client would leave every other reply of the VM unread until the write timeout).
/// </summary>
public class SlowClientTests
{
    [Fact]
    public async Task A_client_that_reads_nothing_holds_neither_the_vm_nor_its_own_reply()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        var data = new byte[8 * 1024 * 1024];
        new Random(19).NextBytes(data);
        string path = dir["big.bin"];
        await File.WriteAllBytesAsync(path, data);

        using var idle = await TestClient.ConnectAsync(relay.Socket("vm"));
        long handle;
        using (var open = await idle.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\"},\"id\":1}"))
        {
            handle = open.Return().GetInt64();
        }

        // An 11 MiB reply, far more than a socket buffer holds, which this client does not read yet.
        await idle.SendAsync("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":" + handle + ",\"count\":" + (data.Length + 1) + "},\"id\":2}");

        using var other = await TestClient.ConnectAsync(relay.Socket("vm"));
        for (int i = 0; i < 20; i++)
        {
            using var ping = await other.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":" + i + "}", TimeSpan.FromSeconds(30));
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), ping.IdText());
            _ = ping.Return();
        }

        // The other client's requests went after the read: the read's reply had left the guest.
        Assert.True((await relay.StatsAsync("vm"))["bytes-from-guest"] > data.Length, "the large reply was not read from the guest");

        using (var read = await idle.ReadAsync(TimeSpan.FromSeconds(30)))
        {
            Assert.NotNull(read);
            Assert.Equal("2", read.IdText());
            Assert.Equal(data, Convert.FromBase64String(read.Return().GetProperty("buf-b64").GetString()!));
        }

        using (var close = await idle.RequestAsync("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "},\"id\":3}"))
        {
            Assert.Equal("3", close.IdText());
        }

        Assert.False(relay.Process.HasExited, relay.Output);
    }
}
