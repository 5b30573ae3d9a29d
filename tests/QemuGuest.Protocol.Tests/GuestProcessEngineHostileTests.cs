using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Processes;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The guest-process engine against the hostile agent, where the guest must lie: output far
/// over the cap, a process that never exits, a status of the wrong shape, no guest-exec at all.
/// Each ends bounded in time and memory, as a typed failure or a protocol error.
/// </summary>
public sealed class GuestProcessEngineHostileTests
{
    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    private static async Task<(GuestAgentClient Client, GuestProcessEngine Engine)> ConnectAsync(FakeAgent agent)
    {
        var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) }); // a 16 MiB exec-status reply took over 20 s at load 30 (CI, ci11)
        await client.ConnectAsync(Ct);
        return (client, new GuestProcessEngine(client, new GuestSessionFacts(), new QgaCallOptions { Timeout = TimeSpan.FromSeconds(60) }, "hostile"));
    }

    /// <summary>guest-exec answers pid 4242; guest-exec-status says "still running" for ever.</summary>
    private static Task NeverExits(FakeRequest r) => r.Command switch
    {
        "guest-info" => r.ReplyAsync(HostileModes.ExecGuestInfo),
        "guest-exec" => r.ReplyAsync("{\"return\": {\"pid\": 4242}}"),
        "guest-exec-status" => r.ReplyAsync("{\"return\": {\"exited\": false}}"),
        _ => FakeAgent.Normal(r),
    };

    private static string[] ExecPaths(FakeAgent agent) =>
        agent.Seen.Where(r => r.Command == "guest-exec").Select(r => r.StringArgument("path") ?? string.Empty).ToArray();

    [Fact]
    public async Task Output_flooding_past_the_cap_is_cut_at_16_MiB_and_flagged()
    {
        await using var agent = new FakeAgent();
        HostileModes.Apply(agent, "exec-flood");
        var (client, engine) = await ConnectAsync(agent);
        await using var _ = client;

        var clock = Stopwatch.StartNew();
        GuestProcessExit exit = await engine.RunAsync(new GuestProcessStartInfo("yes"), TimeSpan.FromSeconds(60), Ct);

        Assert.Equal(0, exit.ExitCode);
        Assert.True(exit.StdOutTruncated);
        Assert.False(exit.StdErrTruncated);
        Assert.Equal(GuestExecIO.MaxOutputBytes, exit.StdOut.Length);
        Assert.StartsWith("abcdefghijklmnopqrstuvwxyzabc", exit.StdOut, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), clock.Elapsed.ToString());
    }

    [Fact]
    public async Task A_process_that_never_exits_meets_the_timeout_and_a_kill_is_sent()
    {
        await using var agent = new FakeAgent(NeverExits);
        var (client, engine) = await ConnectAsync(agent);
        await using var _ = client;

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<GuestProcessException>(() => engine.RunAsync(new GuestProcessStartInfo("sleep", new[] { "1000" }), TimeSpan.FromSeconds(1), Ct));

        Assert.Equal(GuestProcessFailureKind.Timeout, ex.Kind);
        Assert.Equal("hostile", ex.Target);
        // The kill itself is bounded (10 s in GuestExecRunner.KillAsync) even when the guest lies about it too.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), clock.Elapsed.ToString());
        Assert.Equal(new[] { "sleep", "kill" }, ExecPaths(agent));
        Assert.Contains(agent.Seen, r => r.Command == "guest-exec" && r.Arguments.GetProperty("arg").EnumerateArray().Select(a => a.GetString()).SequenceEqual(new[] { "-KILL", "4242" }));
    }

    [Fact]
    public async Task Stopping_a_run_kills_the_program_in_the_guest()
    {
        await using var agent = new FakeAgent(NeverExits);
        var (client, engine) = await ConnectAsync(agent);
        await using var _ = client;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.RunAsync(new GuestProcessStartInfo("sleep", new[] { "1000" }), null, stop.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), clock.Elapsed.ToString());
        Assert.Equal(new[] { "sleep", "kill" }, ExecPaths(agent));
    }

    [Fact]
    public async Task A_status_of_the_wrong_shape_is_a_protocol_error_not_a_result()
    {
        await using var agent = new FakeAgent(r => r.Command switch
        {
            "guest-info" => r.ReplyAsync(HostileModes.ExecGuestInfo),
            "guest-exec" => r.ReplyAsync("{\"return\": {\"pid\": 4242}}"),
            "guest-exec-status" => r.ReplyAsync("{\"return\": {\"exited\": true, \"exitcode\": \"0; rm -rf /\"}}"),
            _ => FakeAgent.Normal(r),
        });
        var (client, engine) = await ConnectAsync(agent);
        await using var _ = client;

        var ex = await Assert.ThrowsAsync<QgaProtocolException>(() => engine.RunAsync(new GuestProcessStartInfo("true"), TimeSpan.FromSeconds(10), Ct));
        Assert.Contains("'exitcode' is not an integer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_agent_without_guest_exec_is_told_apart_before_anything_is_sent()
    {
        await using var agent = new FakeAgent();
        var (client, engine) = await ConnectAsync(agent);
        await using var _ = client;

        var ex = await Assert.ThrowsAsync<GuestProcessException>(() => engine.StartAsync(new GuestProcessStartInfo("true"), Ct));

        Assert.Equal(GuestProcessFailureKind.AgentFeatureUnavailable, ex.Kind);
        Assert.Equal("hostile", ex.Target);
        Assert.Empty(ExecPaths(agent));
    }
}
