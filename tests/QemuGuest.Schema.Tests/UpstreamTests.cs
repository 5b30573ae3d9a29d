using System;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace QemuGuest.Schema.Tests;

/// <summary>
/// schema/qga.json and its includes must stay acceptable to QEMU's own scripts/qapi (issue 24):
/// our additions live in side files (qga.capabilities.json, qga.powershell.json). CI proves it
/// with the upstream level of our parser, which knows only QEMU's keys, pragmas and doc rules;
/// QEMU's checker itself (GPL, not vendored) runs too when QEMUGUEST_QEMU_QAPI names it.
/// </summary>
public class UpstreamTests
{
    [Fact]
    public void ProjectSchemaLoadsAtTheUpstreamLevel()
    {
        var upstream = SchemaLoader.LoadUpstream("qga.json", TestFiles.ReadProject);
        var full = SchemaLoader.Load("qga.json", TestFiles.ReadProject);
        // Same definitions either way: the upstream level dropped nothing but the side file.
        Assert.Equal(full.Commands.Select(c => c.Name), upstream.Commands.Select(c => c.Name));
        Assert.Equal(full.Entities.Count, upstream.Entities.Count);
        Assert.True(full.Commands.Count() >= 50);
        Assert.All(upstream.Commands, c => Assert.Empty(c.Capabilities));
        Assert.DoesNotContain(upstream.Files, f => f.EndsWith(".capabilities.json", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryProjectCommandHasItsClassesFromTheSideFile()
    {
        var schema = SchemaLoader.Load("qga.json", TestFiles.ReadProject);
        Assert.Equal(new[] { "info", "file-read", "file-write", "exec", "system" }, schema.Capabilities.Select(c => c.Name));
        Assert.All(schema.Capabilities, c => Assert.False(string.IsNullOrWhiteSpace(c.Doc)));
        Assert.All(schema.Commands, c => Assert.NotEmpty(c.Capabilities));
        Assert.Equal(new[] { "file-read", "file-write" }, schema.Find<QapiCommand>("guest-file-open")!.Capabilities);
        Assert.Equal(new[] { "exec" }, schema.Find<QapiCommand>("guest-exec")!.Capabilities);
        Assert.Equal(new[] { "system" }, schema.Find<QapiCommand>("guest-shutdown")!.Capabilities);
        Assert.Contains("qga.capabilities.json", schema.Files);
    }

    [Fact]
    public void WithoutASideFileCommandsHaveNoClasses()
    {
        var schema = SchemaLoader.Load("qga.json", TestFiles.ReadProject, capabilitiesPath: null);
        Assert.All(schema.Commands, c => Assert.Empty(c.Capabilities));
        Assert.Empty(schema.Capabilities);
    }

    [Theory]
    [InlineData("type-for-struct")]
    [InlineData("if-list")]
    [InlineData("if-defined")]
    [InlineData("pragma-returns-whitelist")]
    [InlineData("pragma-name-case-whitelist")]
    public void OlderQemuFormsStillLoadAtTheDefaultLevel(string name)
    {
        Assert.NotEmpty(TestFiles.Load("invalid-upstream/" + name + ".json").Files);
    }

    [FactWhenEnvironment("QEMUGUEST_QEMU_QAPI", "QEMU's scripts folder (the one holding qapi/)")]
    public void QemusOwnCheckerAcceptsTheProjectSchema()
    {
        string scripts = Path.GetFullPath(Environment.GetEnvironmentVariable("QEMUGUEST_QEMU_QAPI")!);
        Assert.True(File.Exists(Path.Combine(scripts, "qapi", "schema.py")), scripts + " holds no qapi/schema.py");
        var psi = new ProcessStartInfo("python3")
        {
            WorkingDirectory = Path.GetDirectoryName(TestFiles.ProjectSchemaDir)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("from qapi.schema import QAPISchema; QAPISchema('schema/qga.json')");
        psi.Environment["PYTHONPATH"] = scripts;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("QEMU's qapi checker did not finish within 120 s");
        }
        string output = stdout.Result + stderr.Result;
        Assert.True(p.ExitCode == 0 && output.Length == 0, "exit " + p.ExitCode + ":\n" + output);
    }
}
