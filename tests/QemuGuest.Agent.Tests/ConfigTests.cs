using System;
using System.Collections.Generic;
using System.IO;
using QemuGuest.Agent.Configuration;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>qemu-ga's command line and keyfile, in-process and against the stock binary.</summary>
public sealed class ConfigTests
{
    private static CommandLineResult Parse(string args, string? conf = null, string? qgaConf = null) =>
        CommandLine.Parse(
            args.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            name => name == "QGA_CONF" ? qgaConf : null,
            path => path == (qgaConf ?? "-") || path == "given.conf" ? conf : null);

    [Fact]
    public void ShortLongAndAttachedForms()
    {
        var r = Parse("-m unix-listen --path=/s -t/state -vdr -F -b a,b --block-rpcs c -a x --allow-rpcs=y -l log --pidfile p");
        Assert.Equal(CommandLineAction.Run, r.Action);
        var c = r.Config;
        Assert.Equal("unix-listen", c.Method);
        Assert.Equal("/s", c.ChannelPath);
        Assert.Equal("/state", c.StateDir);
        Assert.True(c.Verbose && c.Daemonize && c.RetryPath);
        Assert.Equal(AgentConfig.DefaultFsfreezeHook, c.FsfreezeHook);
        Assert.Equal(new[] { "a", "b", "c" }, c.BlockedRpcs);
        Assert.Equal(new[] { "x", "y" }, c.AllowedRpcs);
        Assert.Equal("log", c.LogFile);
        Assert.Equal("p", c.PidFile);
    }

    [Fact]
    public void FsfreezeHookArgumentOnlyWhenAttached()
    {
        Assert.Equal("/h", Parse("-F/h").Config.FsfreezeHook);
        Assert.Equal("/h", Parse("--fsfreeze-hook=/h").Config.FsfreezeHook);
        Assert.Equal(AgentConfig.DefaultFsfreezeHook, Parse("-F /ignored").Config.FsfreezeHook);
    }

    [Theory]
    [InlineData("-x", "qemu-ga: invalid option -- 'x'\n")]
    [InlineData("-m", "qemu-ga: option requires an argument -- 'm'\n")]
    [InlineData("--bogus", "qemu-ga: unrecognized option '--bogus'\n")]
    public void UnknownOptionsExit1(string args, string stderr)
    {
        var r = Parse(args);
        Assert.Equal(CommandLineAction.Exit, r.Action);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(stderr, r.Stderr);
        Assert.Equal("Unknown option, try 'qemu-ga --help' for more information.\n", r.Stdout);
    }

    [Fact]
    public void ConfigFileThenCommandLine()
    {
        string conf = "[general]\ndaemon=false\nmethod=virtio-serial\npath=/path/to/org.qemu.guest_agent.0\npidfile=/var/foo/qemu-ga.pid\nstatedir=/var/state\nverbose=true\nblock-rpcs=guest-ping;guest-get-time\n";
        var r = Parse("-b extra", conf, "qga.conf");
        Assert.Equal(new[] { "guest-ping", "guest-get-time", "extra" }, r.Config.BlockedRpcs);
        Assert.Equal("/var/state", r.Config.StateDir);
        Assert.True(r.Config.Verbose);
        var explicitConf = Parse("-c given.conf -m unix-listen", conf);
        Assert.Equal("unix-listen", explicitConf.Config.Method);
        var missing = Parse("-c missing.conf");
        Assert.Equal(1, missing.ExitCode);
    }

    [Fact]
    public void BadConfigValueFails()
    {
        var r = Parse(string.Empty, "[general]\nverbose=maybe\n", "qga.conf");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error loading configuration from path: qga.conf", r.Stderr);
        r = Parse(string.Empty, "[general\n", "qga.conf");
        Assert.Equal(1, r.ExitCode);
    }

    [Fact]
    public void KeyFileRoundTrip()
    {
        var kf = new KeyFile();
        kf.SetString("general", "path", " lead\\ing\n");
        kf.SetBoolean("general", "daemon", true);
        kf.SetInt64("global", "fd_counter", 1234);
        var back = KeyFile.Parse(kf.ToData());
        Assert.Equal(" lead\\ing\n", back.GetString("general", "path"));
        Assert.True(back.GetBoolean("general", "daemon"));
        Assert.Equal(1234, back.GetInt64("global", "fd_counter"));
    }

    /// <summary>test-qga.c /qga/config: -D with QGA_CONF, parsed back as a keyfile.</summary>
    [Fact]
    public void DumpConfigLikeTestQga()
    {
        string conf = Path.Combine(Path.GetTempPath(), "test-qga-config-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(conf, "[general]\ndaemon=false\nmethod=virtio-serial\npath=/path/to/org.qemu.guest_agent.0\npidfile=/var/foo/qemu-ga.pid\nstatedir=/var/state\nverbose=true\nblock-rpcs=guest-ping;guest-get-time\n");
        try
        {
            var env = new Dictionary<string, string> { ["QGA_CONF"] = conf };
            var (code, stdout, stderr) = AgentProcess.RunToExit(AgentKind.Ours, "-D", env);
            Assert.Equal(0, code);
            Assert.Equal(string.Empty, stderr);
            var kf = KeyFile.Parse(stdout);
            Assert.Equal(new[] { "general" }, kf.Groups);
            Assert.False(kf.GetBoolean("general", "daemon"));
            Assert.Equal("virtio-serial", kf.GetString("general", "method"));
            Assert.Equal("/path/to/org.qemu.guest_agent.0", kf.GetString("general", "path"));
            Assert.Equal("/var/foo/qemu-ga.pid", kf.GetString("general", "pidfile"));
            Assert.Equal("/var/state", kf.GetString("general", "statedir"));
            Assert.True(kf.GetBoolean("general", "verbose"));
            Assert.Equal(new[] { "guest-ping", "guest-get-time" }, kf.GetString("general", "block-rpcs")!.Split(';'));

            // Differential: every key the stock agent dumps, with the same value.
            var stock = KeyFile.Parse(AgentProcess.RunToExit(AgentKind.Stock, "-D", env).Stdout);
            foreach (string key in new[] { "daemon", "method", "path", "pidfile", "statedir", "verbose", "retry-path", "block-rpcs" })
            {
                Assert.Equal(stock.GetString("general", key), kf.GetString("general", key));
            }
        }
        finally
        {
            File.Delete(conf);
        }
    }

    [Theory]
    [InlineData("-D -m unix-listen -p /tmp/s -t /tmp -F/x/hook -l /tmp/log -r")]
    [InlineData("-D")]
    [InlineData("-D -m isa-serial")]
    public void DumpMatchesStock(string args)
    {
        var ours = KeyFile.Parse(AgentProcess.RunToExit(AgentKind.Ours, args).Stdout);
        var stock = KeyFile.Parse(AgentProcess.RunToExit(AgentKind.Stock, args).Stdout);
        foreach (string key in new[] { "daemon", "method", "path", "logfile", "pidfile", "fsfreeze-hook", "statedir", "verbose", "retry-path", "block-rpcs" })
        {
            Assert.Equal(stock.GetString("general", key), ours.GetString("general", key));
        }
    }

    [Theory]
    [InlineData("-x")]
    [InlineData("-m unix-listen -t /tmp")]
    [InlineData("-m bogus -p x -t /tmp")]
    public void ExitCodesMatchStock(string args)
    {
        var ours = AgentProcess.RunToExit(AgentKind.Ours, args);
        var stock = AgentProcess.RunToExit(AgentKind.Stock, args);
        Assert.Equal(stock.Code, ours.Code);
        Assert.Equal(stock.Stdout.Replace(AgentProcess.StockPath, "qemu-ga"), ours.Stdout);
    }

    [Fact]
    public void HelpListsAllowRpcs()
    {
        var (code, stdout, _) = AgentProcess.RunToExit(AgentKind.Ours, "-h");
        Assert.Equal(0, code);
        Assert.Contains("--allow-rpcs", stdout);
        var list = AgentProcess.RunToExit(AgentKind.Ours, "-b help");
        Assert.Contains("guest-sync-delimited\n", list.Stdout);
        Assert.Contains("__com.qemuguest_guest-file-stat\n", list.Stdout);
    }
}
