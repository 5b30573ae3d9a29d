using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Processes;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The guest-process engine on its own, no PowerShell, against both real agents: exit codes,
/// signals, captured output and input, environment and working folder (natively in ours,
/// through sh/env in the stock agent), timeouts that kill or leave running, and the exits the
/// stock agent forgets once reported.
/// </summary>
public sealed class GuestProcessEngineTests : IClassFixture<RealAgentsFixture>
{
    private readonly RealAgentsFixture _agents;

    public GuestProcessEngineTests(RealAgentsFixture agents) => _agents = agents;

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    private static GuestProcessEngine Engine(GuestAgentClient client) =>
        new(client, new GuestSessionFacts(), new QgaCallOptions { Timeout = TimeSpan.FromSeconds(20) }, "vm1");

    /// <summary>Host processes whose command line is exactly this one (the agents run on this host).</summary>
    private static int Running(params string[] commandLine)
    {
        string wanted = string.Join("\0", commandLine) + "\0";
        int count = 0;
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")) == wanted)
                {
                    count++;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return count;
    }

    private static async Task<int> RunningAfterAsync(TimeSpan within, params string[] commandLine)
    {
        var clock = Stopwatch.StartNew();
        int n;
        while ((n = Running(commandLine)) > 0 && clock.Elapsed < within)
        {
            await Task.Delay(50);
        }
        return n;
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task Exit_code_output_input_and_signal(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);

        GuestProcessExit exit = await engine.RunAsync(new GuestProcessStartInfo("sh", new[] { "-c", "echo out; echo err >&2; exit 3" }), TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(3, exit.ExitCode);
        Assert.Null(exit.Signal);
        Assert.Equal("out\n", exit.StdOut);
        Assert.Equal("err\n", exit.StdErr);
        Assert.False(exit.StdOutTruncated);
        Assert.Equal("sh", exit.FilePath);

        var cat = new GuestProcessStartInfo("cat") { StandardInput = Encoding.UTF8.GetBytes("héllo\nworld\n") };
        GuestProcessExit echoed = await engine.RunAsync(cat, TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(0, echoed.ExitCode);
        Assert.Equal("héllo\nworld\n", echoed.StdOut);

        GuestProcessExit killed = await engine.RunAsync(new GuestProcessStartInfo("sh", new[] { "-c", "kill -TERM $$" }), TimeSpan.FromSeconds(30), Ct);
        Assert.Null(killed.ExitCode);
        Assert.Equal(15, killed.Signal);
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task Environment_is_added_and_the_working_folder_is_used(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        string folder = Path.Combine(_agents.Directory, "cwd " + kind);
        Directory.CreateDirectory(folder);

        var start = new GuestProcessStartInfo("sh", new[] { "-c", "pwd; echo \"$QG_ONE|$QG_TWO\"; test -n \"$PATH\" && echo inherited" })
        {
            Environment = new[] { new KeyValuePair<string, string>("QG_ONE", "a b"), new KeyValuePair<string, string>("QG_TWO", "x=y") },
            WorkingDirectory = folder,
        };
        GuestProcessExit exit = await engine.RunAsync(start, TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(folder + "\na b|x=y\ninherited\n", exit.StdOut);
        Assert.Equal(0, exit.ExitCode);
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task A_bad_environment_name_is_refused_before_anything_runs(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        var start = new GuestProcessStartInfo("touch", new[] { Path.Combine(_agents.Directory, "never-" + kind) })
        {
            Environment = new[] { new KeyValuePair<string, string>("A=B\u001b[2J", "1") },
        };

        var ex = await Assert.ThrowsAsync<GuestProcessException>(() => engine.RunAsync(start, TimeSpan.FromSeconds(30), Ct));

        Assert.Equal(GuestProcessFailureKind.InvalidEnvironmentName, ex.Kind);
        Assert.Equal("A=B\u001b[2J", ex.Target);
        Assert.Equal("'A=B\\u001b[2J' is not a valid environment variable name.", ex.Message);
        Assert.False(File.Exists(Path.Combine(_agents.Directory, "never-" + kind)));
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task A_timeout_kills_the_program(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        string seconds = kind == AgentKind.Stock ? "61.25" : "61.5"; // tells the two agents' sleeps apart

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<GuestProcessException>(() => engine.RunAsync(new GuestProcessStartInfo("sleep", new[] { seconds }), TimeSpan.FromSeconds(1), Ct));

        Assert.Equal(GuestProcessFailureKind.Timeout, ex.Kind);
        Assert.Equal("vm1", ex.Target);
        Assert.Contains("'sleep' (pid ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("did not exit within 1 s; it was killed.", ex.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), clock.Elapsed.ToString());
        Assert.Equal(0, await RunningAfterAsync(TimeSpan.FromSeconds(5), "sleep", seconds));
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task A_wait_without_kill_leaves_the_program_running_and_a_wait_with_kill_ends_it(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        string seconds = kind == AgentKind.Stock ? "62.25" : "62.5";
        long pid = await engine.StartAsync(new GuestProcessStartInfo("sleep", new[] { seconds }), Ct);

        var left = await Assert.ThrowsAsync<GuestProcessException>(() => engine.WaitAsync(pid, TimeSpan.FromSeconds(1), killOnTimeout: false, Ct));
        Assert.Equal(GuestProcessFailureKind.Timeout, left.Kind);
        Assert.Equal(pid, left.Target);
        Assert.Equal($"Process {pid} did not exit within 1 s; it keeps running.", left.Message);
        Assert.Equal(1, Running("sleep", seconds));
        Assert.False((await engine.GetStateAsync(pid, Ct)).Exited);

        var killed = await Assert.ThrowsAsync<GuestProcessException>(() => engine.WaitAsync(pid, TimeSpan.FromSeconds(1), killOnTimeout: true, Ct));
        Assert.Equal(GuestProcessFailureKind.Timeout, killed.Kind);
        Assert.EndsWith("it was killed.", killed.Message, StringComparison.Ordinal);
        Assert.Equal(0, await RunningAfterAsync(TimeSpan.FromSeconds(5), "sleep", seconds));
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task An_exit_seen_by_a_look_is_kept_for_the_wait_then_the_process_is_unknown(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        long pid = await engine.StartAsync(new GuestProcessStartInfo("sh", new[] { "-c", "echo done; exit 7" }), Ct);

        GuestProcessState state;
        var clock = Stopwatch.StartNew();
        while (!(state = await engine.GetStateAsync(pid, Ct)).Exited && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }
        Assert.True(state.Exited);
        Assert.Equal(7, state.ExitCode);

        // The stock agent has forgotten the process by now; the engine has not.
        GuestProcessExit exit = await engine.WaitAsync(pid, TimeSpan.FromSeconds(5), killOnTimeout: false, Ct);
        Assert.Equal(7, exit.ExitCode);
        Assert.Equal("done\n", exit.StdOut);

        var gone = await Assert.ThrowsAsync<GuestProcessException>(() => engine.WaitAsync(pid, null, killOnTimeout: false, Ct));
        Assert.Equal(GuestProcessFailureKind.ProcessNotFound, gone.Kind);
        Assert.Equal(pid, gone.Target);
        Assert.IsType<QgaGenericErrorException>(gone.InnerException);
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task An_unknown_pid_is_not_found_for_a_look_and_for_a_bounded_wait(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);

        var look = await Assert.ThrowsAsync<GuestProcessException>(() => engine.GetStateAsync(987654321, Ct));
        Assert.Equal(GuestProcessFailureKind.ProcessNotFound, look.Kind);
        Assert.Equal(987654321L, look.Target);

        // Before the engine, Wait-VMGuestProcess -Timeout without -Kill waited outside the
        // not-found mapping and reported AgentGenericError; both waits now say ProcessNotFound.
        var wait = await Assert.ThrowsAsync<GuestProcessException>(() => engine.WaitAsync(987654321, TimeSpan.FromSeconds(5), killOnTimeout: false, Ct));
        Assert.Equal(GuestProcessFailureKind.ProcessNotFound, wait.Kind);
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task Scripts_run_with_their_interpreter_from_a_private_file_that_is_removed_after(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        var extras = new GuestProcessStartInfo(string.Empty) { StandardInput = Encoding.UTF8.GetBytes("in\n") };

        // $0 is the script file: its mode and owner are read while it runs.
        GuestProcessExit bash = await engine.RunScriptAsync(extras, GuestScriptLanguage.Bash,
            "read x; echo \"$x $((6*7))\"; echo \"$(stat -c '%a %u' \"$0\") $(id -u)\"; echo \"$0\"", TimeSpan.FromSeconds(30), Ct);
        Assert.Equal("bash", bash.FilePath);
        string[] lines = bash.StdOut.Split('\n');
        Assert.Equal("in 42", lines[0]);
        string[] modeOwnerAgent = lines[1].Split(' ');
        Assert.Equal("700", modeOwnerAgent[0]);
        Assert.Equal(modeOwnerAgent[2], modeOwnerAgent[1]);
        Assert.Matches("^/tmp/qemuguest-script-[0-9a-f]{32}\\.sh$", lines[2]);
        Assert.False(File.Exists(lines[2]), lines[2] + " is left in the guest");

        GuestProcessExit sh = await engine.RunScriptAsync(extras, GuestScriptLanguage.Sh, "echo \"$0\"; exit 4", TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(4, sh.ExitCode);
        Assert.False(File.Exists(sh.StdOut.Trim()), sh.StdOut + " is left in the guest after a failing script");

        // No language: the guest's OS decides (both agents here run on Linux: bash).
        GuestProcessExit chosen = await engine.RunScriptAsync(extras, null, "echo \"$BASH_VERSION\" | cut -c1", TimeSpan.FromSeconds(30), Ct);
        Assert.Matches("^[0-9]\n$", chosen.StdOut);
    }

    /// <summary>
    /// Before scripts went through a file, 300 KB of text was one bash -c argument and Linux
    /// refused it (E2BIG, "Argument list too long": one argument may hold 128 KiB).
    /// </summary>
    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task A_300_KB_script_runs(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        var script = new StringBuilder("n=0\n");
        int expected = 0;
        while (script.Length < 300 * 1024)
        {
            script.Append("n=$((n+1)) # ").Append('x', 40).Append('\n');
            expected++;
        }
        script.Append("echo \"$n\"\n");

        GuestProcessExit exit = await engine.RunScriptAsync(new GuestProcessStartInfo(string.Empty), GuestScriptLanguage.Sh, script.ToString(), TimeSpan.FromSeconds(60), Ct);
        Assert.Equal(string.Empty, exit.StdErr);
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(expected + "\n", exit.StdOut);
    }

    [Theory]
    [InlineData(AgentKind.Stock)]
    [InlineData(AgentKind.Ours)]
    public async Task The_script_file_is_removed_after_a_timeout_and_after_cancellation(AgentKind kind)
    {
        await using var client = _agents.CreateClient(kind);
        await client.ConnectAsync(Ct);
        var engine = Engine(client);
        string marker = Path.Combine(_agents.Directory, "script-path-" + kind + "-" + Guid.NewGuid().ToString("N"));

        await Assert.ThrowsAsync<GuestProcessException>(() => engine.RunScriptAsync(new GuestProcessStartInfo(string.Empty), GuestScriptLanguage.Sh,
            $"echo \"$0\" > '{marker}'; sleep 600", TimeSpan.FromSeconds(2), Ct));
        string timedOut = File.ReadAllText(marker).Trim();
        Assert.StartsWith("/tmp/qemuguest-script-", timedOut);
        Assert.False(File.Exists(timedOut), timedOut + " is left after a timeout");
        File.Delete(marker);

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        Task run = engine.RunScriptAsync(new GuestProcessStartInfo(string.Empty), GuestScriptLanguage.Sh,
            $"echo \"$0\" > '{marker}'; sleep 600", null, cancel.Token);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(marker) || File.ReadAllText(marker).Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the script never started");
            await Task.Delay(50);
        }
        string cancelled = File.ReadAllText(marker).Trim();
        Assert.True(File.Exists(cancelled));
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.False(File.Exists(cancelled), cancelled + " is left after cancellation");
    }

    [Fact]
    public void Script_files_get_their_interpreter_encoding_and_extension()
    {
        var extras = new GuestProcessStartInfo(string.Empty);
        string ps1 = GuestScriptFile.NewPath(GuestScriptLanguage.PowerShell, windows: false);
        Assert.Matches("^/tmp/qemuguest-script-[0-9a-f]{32}\\.ps1$", ps1);
        Assert.NotEqual(ps1, GuestScriptFile.NewPath(GuestScriptLanguage.PowerShell, windows: false));
        Assert.Matches(@"^C:\\Windows\\Temp\\qemuguest-script-[0-9a-f]{32}\.cmd$", GuestScriptFile.NewPath(GuestScriptLanguage.Cmd, windows: true));

        GuestProcessStartInfo linux = GuestScriptFile.StartInfo(extras, GuestScriptLanguage.PowerShell, "/tmp/s.ps1", windows: false);
        Assert.Equal("pwsh", linux.FilePath);
        Assert.Equal(new[] { "-NoProfile", "-NonInteractive", "-File", "/tmp/s.ps1" }, linux.Arguments);
        GuestProcessStartInfo windows = GuestScriptFile.StartInfo(extras, GuestScriptLanguage.PowerShell, @"C:\t\s.ps1", windows: true);
        Assert.Equal("powershell.exe", windows.FilePath);
        Assert.Equal(new[] { "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", @"C:\t\s.ps1" }, windows.Arguments);
        Assert.Equal(new[] { "/d", "/c", @"C:\t\s.cmd" }, GuestScriptFile.StartInfo(extras, GuestScriptLanguage.Cmd, @"C:\t\s.cmd", windows: true).Arguments);

        Assert.Equal(GuestScriptLanguage.PowerShell, GuestScriptFile.DefaultLanguage(windows: true));
        Assert.Equal(GuestScriptLanguage.Bash, GuestScriptFile.DefaultLanguage(windows: false));
        Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF, (byte)'1' }, GuestScriptFile.Encode(GuestScriptLanguage.PowerShell, "1"));
        Assert.Equal(Encoding.ASCII.GetBytes("a\r\nb\r\n"), GuestScriptFile.Encode(GuestScriptLanguage.Cmd, "a\nb\r\n"));
        Assert.Equal(Encoding.UTF8.GetBytes("é\n"), GuestScriptFile.Encode(GuestScriptLanguage.Bash, "é\n"));

        // cmd reads a batch file in the console code page (chcp's): the script is written in it,
        // and text that page cannot hold is refused rather than turned into '?'.
        Encoding latin1 = Encoding.GetEncoding(28591);
        Assert.Equal(new byte[] { (byte)'e', 0xE9, 0x0D, 0x0A }, GuestScriptFile.Encode(GuestScriptLanguage.Cmd, "eé\n", latin1));
        Assert.Throws<EncoderFallbackException>(() => GuestScriptFile.Encode(GuestScriptLanguage.Cmd, "5 €", latin1));
        Assert.Equal(Encoding.UTF8.GetBytes("é\r\n"), GuestScriptFile.Encode(GuestScriptLanguage.Cmd, "é\n", new UTF8Encoding(false)));
    }

    [Fact]
    public void The_code_page_is_the_last_number_chcp_prints()
    {
        Assert.Equal(850, GuestProcessEngine.CodePage("Active code page: 850\r\n"));
        Assert.Equal(65001, GuestProcessEngine.CodePage("Aktive Codepage: 65001.\r\n"));
        Assert.Null(GuestProcessEngine.CodePage("no number"));
    }
}
