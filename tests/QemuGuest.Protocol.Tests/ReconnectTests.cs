using System;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Tests;

/// <summary>Kills and restarts its own qemu-ga.</summary>
public class ReconnectTests : IClassFixture<QemuGaFixture>
{
    private readonly QemuGaFixture _agent;

    public ReconnectTests(QemuGaFixture agent) => _agent = agent;

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task Reconnects_after_the_agent_is_killed_and_restarted_then_reports_exhaustion()
    {
        await using GuestAgentClient client = _agent.CreateClient(new GuestAgentClientOptions
        {
            DefaultTimeout = TimeSpan.FromSeconds(30),
            Reconnect = new ReconnectPolicy { MaxAttempts = 50, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200) },
        });
        await client.ExecuteAsync("guest-ping", Ct);

        // Agent restart (VM reboot, agent upgrade): the next call reconnects and re-syncs.
        _agent.Kill();
        Task restart = Task.Run(async () =>
        {
            await Task.Delay(500);
            _agent.Start();
        });
        try
        {
            Assert.Equal(11, (await client.ExecuteAsync("guest-sync", new JsonArgs("{\"id\":11}"), null, Ct)).GetInt32());
        }
        catch (Exception e1)
        {
            throw new Exception(e1.Message + " state=" + client.State + " pid=" + _agent.ProcessId + " log=" + _agent.ReadLog(), e1);
        }
        await restart;
        Assert.Equal(GuestAgentClientState.Ready, client.State);

        // Agent gone for good: a clear error once the policy is exhausted.
        _agent.Kill();
        await Task.Delay(200);
        await using GuestAgentClient impatient = _agent.CreateClient(new GuestAgentClientOptions
        {
            Reconnect = new ReconnectPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(10) },
        });
        var ex = await Assert.ThrowsAsync<QgaDisconnectedException>(() => impatient.ExecuteAsync("guest-ping", Ct));
        Assert.Contains("3 attempt(s)", ex.Message);

        // Back again: the same client recovers on its next call.
        _agent.Start();
        await impatient.ExecuteAsync("guest-ping", Ct);

        // qemu-ga serves one connection at a time: the first client only gets through once
        // the other one has gone.
        await impatient.DisposeAsync();
        await client.ExecuteAsync("guest-ping", Ct);
    }
}
