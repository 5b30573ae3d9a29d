using System;
using System.Linq;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The shared allow/deny reader (issue 15 item 4) over the real generated command table: classes
/// come from the schema, so a new exec-like command is denied by '@exec' without anyone
/// remembering its name.
/// </summary>
public class CommandRulesTests
{
    private static readonly QgaCommandInfo[] Commands = QgaSchemaDescriptors.Commands.Select(c => c.Info).ToArray();

    private static CommandRules Rules(string[] allow, string[] deny) => new(allow, deny, Commands);

    [Fact]
    public void Every_command_declares_its_capabilities_and_exec_and_file_writes_are_classed()
    {
        Assert.All(Commands, c => Assert.NotEmpty(c.Capabilities));
        string[] exec = Commands.Where(c => c.HasCapability("exec")).Select(c => c.Name).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "__com.qemuguest_guest-exec-kill", "__com.qemuguest_guest-exec-read", "__com.qemuguest_guest-exec-start", "__com.qemuguest_guest-exec-write", "guest-exec", "guest-exec-status" }, exec);
        foreach (string w in new[] { "__com.qemuguest_guest-file-mkdir", "__com.qemuguest_guest-file-remove", "__com.qemuguest_guest-file-rename", "__com.qemuguest_guest-file-set-attributes", "guest-file-open", "guest-file-write" })
        {
            Assert.True(Commands.Single(c => c.Name == w).HasCapability("file-write"), w);
        }
    }

    [Fact]
    public void Deny_exec_refuses_the_extension_exec_commands_too()
    {
        var r = Rules(Array.Empty<string>(), new[] { "@exec" });
        Assert.False(r.Allows("guest-exec"));
        Assert.False(r.Allows("__com.qemuguest_guest-exec-start"));
        Assert.False(r.Allows("__com.qemuguest_guest-exec-read"));
        Assert.False(r.Allows("__com.qemuguest_guest-exec-write"));
        Assert.True(r.Allows("guest-file-open"));
        Assert.True(r.Allows("guest-ping"));
        Assert.Empty(r.Warnings());
    }

    [Fact]
    public void Name_patterns_also_match_extension_commands_after_their_vendor_prefix()
    {
        var r = Rules(Array.Empty<string>(), new[] { "guest-file-*" });
        foreach (string c in new[] { "guest-file-open", "__com.qemuguest_guest-file-mkdir", "__com.qemuguest_guest-file-remove", "__com.qemuguest_guest-file-set-attributes", "__com.qemuguest_guest-file-list" })
        {
            Assert.False(r.Allows(c), c);
        }
        Assert.True(r.Allows("guest-exec"));
    }

    [Fact]
    public void Allow_by_class_needs_every_class_of_the_command()
    {
        var read = Rules(new[] { "@info", "@file-read" }, Array.Empty<string>());
        Assert.True(read.Allows("guest-get-osinfo"));
        Assert.True(read.Allows("__com.qemuguest_guest-file-list"));
        Assert.True(read.Allows("guest-file-read"));
        Assert.False(read.Allows("guest-file-open"));     // file-read + file-write
        Assert.False(read.Allows("guest-exec"));
        Assert.False(read.Allows("no-such-command"));     // no classes: no class entry covers it
        var both = Rules(new[] { "@file-read", "@file-write" }, Array.Empty<string>());
        Assert.True(both.Allows("guest-file-open"));
    }

    [Fact]
    public void A_name_only_deny_list_that_leaves_exec_allowed_is_warned_about()
    {
        var r = Rules(Array.Empty<string>(), new[] { "guest-exec", "guest-exec-status" });
        Assert.True(r.Allows("__com.qemuguest_guest-exec-start"));
        string warning = Assert.Single(r.Warnings());
        Assert.Contains("denies guest-exec-status, guest-exec by name but still allows __com.qemuguest_guest-exec-start", warning);
        Assert.Contains("deny '@exec'", warning);
    }

    [Theory]
    [InlineData("guest-ping", null)]
    [InlineData("guest-*", null)]
    [InlineData("*", null)]
    [InlineData("@exec", null)]
    [InlineData("guest-file-mkdir", null)]
    [InlineData("guest-exce", "'guest-exce' matches no command of the schema")]
    [InlineData("guest-zz*", "'guest-zz*' matches no command of the schema")]
    [InlineData("@execute", "'@execute' names no capability class of the schema (classes: @info, @system, @file-read, @file-write, @exec)")]
    [InlineData("guest-*-read", "'guest-*-read' must be a command name, a prefix ending in '*', or '@class'")]
    [InlineData("guest ping", "'guest ping' must be a command name, a prefix ending in '*', or '@class'")]
    [InlineData("\u001b[2Jx", "'\\u001b[2Jx' must be a command name, a prefix ending in '*', or '@class'")]
    [InlineData("", "an empty entry must be a command name, a prefix ending in '*', or '@class'")]
    public void Entries_that_match_nothing_or_are_malformed_are_named(string entry, string? problem)
    {
        Assert.Equal(problem, CommandRules.EntryProblem(entry, Commands));
    }
}
