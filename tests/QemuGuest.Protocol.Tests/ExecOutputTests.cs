using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Transfer;
using Xunit.Abstractions;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// Gap "exec output is not amplified ~8× in host memory": the hostile agent, as its own process
/// (so this process's allocation counters see only the client), reports a process with 40 MiB
/// of stdout. The old path (generated record: base64 as a UTF-16 string, then decoded, then
/// text) is measured beside GuestExecIO (decoded once from the reply, cut at 16 MiB).
/// </summary>
[Collection(nameof(HostileAgentClientTests))]
public sealed class ExecOutputTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _dir = Path.Combine("/tmp", "qgx-" + Guid.NewGuid().ToString("N").Substring(0, 8));
    private Process? _agent;

    public ExecOutputTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose()
    {
        if (_agent is { HasExited: false })
        {
            _agent.Kill();
            _agent.WaitForExit(5000);
        }

        _agent?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task Flooded_exec_output_is_decoded_once_bounded_and_flagged_truncated()
    {
        await using var client = await StartAsync("exec-flood");
        var commands = new GuestAgentCommands(client);

        // Warm both paths (JIT, pools) on the same reply, then measure each.
        await OldPathAsync(commands);
        await GuestExecIO.StatusAsync(client, 4242, GuestExecIO.MaxOutputBytes, null, Ct);

        var (oldAllocated, oldPeak, oldText) = await MeasureAsync(async () => await OldPathAsync(commands));
        GuestExecResult? result = null;
        var (newAllocated, newPeak, newText) = await MeasureAsync(async () =>
        {
            result = await GuestExecIO.StatusAsync(client, 4242, GuestExecIO.MaxOutputBytes, null, Ct);
            return Encoding.UTF8.GetString(result.StdOut);
        });

        double mib = 1024 * 1024;
        _output.WriteLine($"guest sent {HostileModes.ExecFloodBytes / mib:0} MiB of stdout ({HostileModes.ExecFloodBytes * 4 / 3 / mib:0.0} MiB base64)");
        _output.WriteLine($"before (generated record + FromBase64String + text): allocated {oldAllocated / mib:0.0} MiB, heap peak +{oldPeak / mib:0.0} MiB, text {oldText} chars");
        _output.WriteLine($"after  (GuestExecIO, cut at {GuestExecIO.MaxOutputBytes / mib:0} MiB): allocated {newAllocated / mib:0.0} MiB, heap peak +{newPeak / mib:0.0} MiB, text {newText} chars");

        Assert.NotNull(result);
        Assert.True(result!.Exited);
        Assert.Equal(0, result.ExitCode);
        Assert.True(result.StdOutTruncated);
        Assert.False(result.StdErrTruncated);
        Assert.Equal(GuestExecIO.MaxOutputBytes, result.StdOut.Length);
        for (int i = 0; i < result.StdOut.Length; i += 4093)
        {
            Assert.Equal((byte)('a' + (i % 26)), result.StdOut[i]);
        }

        int last = result.StdOut.Length - 1; // the byte the bound splits a base64 quantum at
        Assert.Equal((byte)('a' + (last % 26)), result.StdOut[last]);

        // What is left is the channel's: the framer's growth buffers and the reply's copy
        // (shared with every large reply, bounded by MaxMessageBytes). Gone are the UTF-16
        // base64 string (2.7x the output) and everything past the 16 MiB bound.
        Assert.True(newAllocated < oldAllocated - (2L * HostileModes.ExecFloodBytes), $"after {newAllocated} vs before {oldAllocated}");
        Assert.Equal(GuestExecIO.MaxOutputBytes, newText);
    }

    [Fact]
    public async Task Small_output_decodes_exactly_and_escapes_stay_raw_in_the_bytes()
    {
        await using var client = await StartAsync("escapes");
        var r = await GuestExecIO.StatusAsync(client, 4242, GuestExecIO.MaxOutputBytes, null, Ct);
        Assert.Equal("line one\n" + HostileModes.Escapes + "\n", Encoding.UTF8.GetString(r.StdOut));
        Assert.Equal(HostileModes.Escapes, Encoding.UTF8.GetString(r.StdErr));
        Assert.False(r.StdOutTruncated);

        for (int max = 0; max < 12; max++)
        {
            var cut = await GuestExecIO.StatusAsync(client, 4242, max, null, Ct);
            Assert.Equal(Encoding.UTF8.GetBytes("line one\n" + HostileModes.Escapes + "\n").AsSpan(0, max).ToArray(), cut.StdOut);
            Assert.True(cut.StdOutTruncated);
        }
    }

    private async Task<GuestAgentClient> StartAsync(string mode)
    {
        string socket = Path.Combine(_dir, "agent.sock");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "QemuGuest.HostileAgent.dll"), "--socket", socket, "--mode", mode })
        {
            psi.ArgumentList.Add(a);
        }

        _agent = Process.Start(psi)!;
        for (int i = 0; i < 400 && !File.Exists(socket); i++)
        {
            await Task.Delay(25);
        }

        var client = new GuestAgentClient("unix:" + socket, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) });
        await client.ConnectAsync(Ct);
        return client;
    }

    private static async Task<int> OldPathAsync(GuestAgentCommands commands)
    {
        GuestExecStatus status = await commands.GuestExecStatusAsync(4242, null, Ct);
        byte[] bytes = Convert.FromBase64String(status.OutData!);
        return Encoding.UTF8.GetString(bytes).Length;
    }

    private static async Task<(long Allocated, long Peak, int TextLength)> MeasureAsync(Func<Task<int>> run)
    {
        using var heap = new HeapSampler();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        int length = await run();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        var (peak, _) = heap.Stop();
        return (allocated, peak, length);
    }

    private static async Task<(long Allocated, long Peak, int TextLength)> MeasureAsync(Func<Task<string>> run)
        => await MeasureAsync(async () => (await run()).Length);
}
