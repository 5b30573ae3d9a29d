using System;
using System.IO;
using System.Text.Json;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// Issue 15 item 4 against our agent as a real process over its real socket: -a/-b take the
/// schema's capability classes, so blocking exec blocks the extension's exec-start too, and an
/// entry that matches no command stops the agent instead of leaving a hole.
/// </summary>
public sealed class PolicyTests
{
    private static void AssertDisabled(AgentProcess agent, string command, string arguments)
    {
        JsonElement reply = agent.Execute("{\"execute\":\"" + command + "\",\"arguments\":" + arguments + "}");
        Assert.True(reply.TryGetProperty("error", out var e), command + ": " + reply.GetRawText());
        Assert.Equal("CommandNotFound", e.GetProperty("class").GetString());
        Assert.Equal("Command " + command + " has been disabled", e.GetProperty("desc").GetString());
    }

    [Fact]
    public void Block_exec_class_refuses_guest_exec_and_the_extension_exec_start()
    {
        using var agent = new AgentProcess(AgentKind.Ours, "-b @exec");
        string marker = Path.Combine(agent.StateDir, "ran");
        string sh = "{\"path\":\"/bin/sh\",\"arg\":[\"-c\",\"touch " + marker + "\"]}";
        AssertDisabled(agent, "__com.qemuguest_guest-exec-start", sh);
        AssertDisabled(agent, "guest-exec", sh);
        AssertDisabled(agent, "guest-exec-status", "{\"pid\":1}");
        AssertDisabled(agent, "__com.qemuguest_guest-exec-read", "{\"pid\":1}");
        AssertDisabled(agent, "__com.qemuguest_guest-exec-write", "{\"pid\":1,\"input-data\":\"eA==\"}");
        Assert.True(agent.Execute("{\"execute\":\"guest-ping\"}").TryGetProperty("return", out _));
        Assert.False(File.Exists(marker), "a blocked exec ran a program");

        JsonElement info = agent.Execute("{\"execute\":\"guest-info\"}").GetProperty("return");
        foreach (JsonElement c in info.GetProperty("supported_commands").EnumerateArray())
        {
            string name = c.GetProperty("name").GetString()!;
            Assert.Equal(!name.Contains("exec", StringComparison.Ordinal), c.GetProperty("enabled").GetBoolean());
        }
    }

    [Fact]
    public void Block_guest_file_pattern_refuses_the_extension_file_writes()
    {
        using var agent = new AgentProcess(AgentKind.Ours, "-b guest-file-*");
        string dir = Path.Combine(agent.StateDir, "made");
        string victim = Path.Combine(agent.StateDir, "victim");
        File.WriteAllText(victim, "keep");
        AssertDisabled(agent, "__com.qemuguest_guest-file-mkdir", "{\"path\":\"" + dir + "\"}");
        AssertDisabled(agent, "__com.qemuguest_guest-file-remove", "{\"path\":\"" + victim + "\"}");
        AssertDisabled(agent, "__com.qemuguest_guest-file-set-attributes", "{\"path\":\"" + victim + "\",\"mode\":511}");
        Assert.False(Directory.Exists(dir));
        Assert.Equal("keep", File.ReadAllText(victim));
        Assert.NotEqual(UnixFileMode.OtherWrite, File.GetUnixFileMode(victim) & UnixFileMode.OtherWrite);
    }

    [Fact]
    public void A_name_only_exec_block_is_warned_about_at_start()
    {
        // qemu-ga's spelling still works as before, but no longer silently leaves exec-start open.
        using var agent = new AgentProcess(AgentKind.Ours, "-b guest-exec,guest-exec-status");
        Assert.True(agent.Execute("{\"execute\":\"guest-ping\"}").TryGetProperty("return", out _));
        const string Warning = "block-rpcs denies guest-exec-status, guest-exec by name but still allows __com.qemuguest_guest-exec-start";
        Assert.Contains(Warning, agent.WaitForStderr(Warning));
    }

    [Theory]
    [InlineData("-b guest-exce", "-b/block-rpcs: 'guest-exce' matches no command of the schema")]
    [InlineData("-a guest-ping,@nope", "-a/allow-rpcs: '@nope' names no capability class of the schema")]
    [InlineData("-b guest-*-exec", "-b/block-rpcs: 'guest-*-exec' must be a command name, a prefix ending in '*', or '@class'")]
    public void An_entry_that_matches_no_command_stops_the_agent(string args, string message)
    {
        string state = Directory.CreateTempSubdirectory("qga-test-").FullName;
        try
        {
            var (code, _, stderr) = AgentProcess.RunToExit(AgentKind.Ours, "-m unix-listen -p " + Path.Combine(state, "sock") + " -t " + state + " " + args);
            Assert.Equal(1, code);
            Assert.Contains("critical: " + message, stderr);
            Assert.False(File.Exists(Path.Combine(state, "sock")));
        }
        finally
        {
            Directory.Delete(state, true);
        }
    }
}
