using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The character-device transport (the agent's virtio-serial / isa-serial side) over a pty:
/// <c>socat PTY,raw,echo=0,link=DIR/tty UNIX-CONNECT:qga.sock</c> bridges it to a real qemu-ga.
/// Needs socat (apt-get install socat); missing, the test fails.
/// </summary>
public class CharacterDeviceTests : IClassFixture<QemuGaFixture>
{
    private readonly QemuGaFixture _agent;

    public CharacterDeviceTests(QemuGaFixture agent) => _agent = agent;

    [Fact]
    public async Task Serial_transport_over_a_pty()
    {
        string socat = new[] { "/usr/bin/socat", "/bin/socat", "/usr/local/bin/socat" }.FirstOrDefaultExisting()
            ?? throw new InvalidOperationException("socat is not installed (apt-get install socat); this test bridges a pty to qemu-ga with it.");
        string tty = Path.Combine(_agent.Directory, "tty");
        var info = new ProcessStartInfo(socat) { UseShellExecute = false, RedirectStandardError = true };
        info.ArgumentList.Add("PTY,raw,echo=0,link=" + tty);
        info.ArgumentList.Add("UNIX-CONNECT:" + _agent.SocketPath);
        using Process bridge = Process.Start(info)!;
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(tty))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "socat did not create the pty");
                await Task.Delay(20);
            }

            await using var client = new GuestAgentClient("serial:" + tty, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20) });
            Assert.Equal("serial:" + tty, client.Endpoint);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Assert.Equal(77, (await client.ExecuteAsync("guest-sync", new JsonArgs("{\"id\":77}"), null, cts.Token)).GetInt32());
            await client.ExecuteAsync("guest-ping", cts.Token);
        }
        finally
        {
            bridge.Kill();
            bridge.WaitForExit(5000);
        }
    }
}
