using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace QemuGuest.Schema.Tests;

/// <summary>
/// QEMU-style corpus: every invalid/NAME.json must fail with exactly the text in NAME.err
/// (QEMUGUEST_UPDATE_BASELINES=1 rewrites them; read the diff before committing).
/// </summary>
public class CorpusTests
{
    public static IEnumerable<object[]> InvalidSchemas() => Cases("invalid");

    public static IEnumerable<object[]> InvalidOverlays() => Cases("invalid-overlay");

    public static IEnumerable<object[]> InvalidCapabilities() => Cases("invalid-capabilities");

    public static IEnumerable<object[]> InvalidUpstream() => Cases("invalid-upstream");

    private static IEnumerable<object[]> Cases(string folder) =>
        Directory.GetFiles(Path.Combine(TestFiles.Root, folder), "*.json")
            .Select(f => Path.GetFileNameWithoutExtension(f))
            .OrderBy(n => n, System.StringComparer.Ordinal)
            .Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(InvalidSchemas))]
    public void InvalidSchemaFailsWithExpectedText(string name)
    {
        var err = Assert.Throws<SchemaError>(() => TestFiles.Load("invalid/" + name + ".json"));
        TestFiles.AssertBaseline("invalid/" + name + ".err", err.Text);
    }

    [Theory]
    [MemberData(nameof(InvalidOverlays))]
    public void InvalidOverlayFailsWithExpectedText(string name)
    {
        var schema = TestFiles.Load("invalid-overlay/schema.qapi");
        string path = "invalid-overlay/" + name + ".json";
        var err = Assert.Throws<SchemaError>(() => OverlayLoader.Load(path, TestFiles.Read(path)!, schema));
        TestFiles.AssertBaseline("invalid-overlay/" + name + ".err", err.Text);
    }

    /// <summary>Each case is a capabilities side file for the folder's schema.qapi.</summary>
    [Theory]
    [MemberData(nameof(InvalidCapabilities))]
    public void InvalidCapabilitiesFileFailsWithExpectedText(string name)
    {
        string path = "invalid-capabilities/" + name + ".json";
        var err = Assert.Throws<SchemaError>(() => SchemaLoader.Load("invalid-capabilities/schema.qapi", TestFiles.Read, path));
        TestFiles.AssertBaseline("invalid-capabilities/" + name + ".err", err.Text);
    }

    /// <summary>
    /// What current QEMU's scripts/qapi refuses must fail at the upstream level: our former
    /// keys and the older QEMU forms the default level still takes (UpstreamTests shows those load there).
    /// </summary>
    [Theory]
    [MemberData(nameof(InvalidUpstream))]
    public void InvalidUpstreamFailsWithExpectedText(string name)
    {
        string path = "invalid-upstream/" + name + ".json";
        var err = Assert.Throws<SchemaError>(() => SchemaLoader.LoadUpstream(path, TestFiles.Read));
        TestFiles.AssertBaseline("invalid-upstream/" + name + ".err", err.Text);
    }

    [Theory]
    [InlineData("invalid")]
    [InlineData("invalid-overlay")]
    [InlineData("invalid-capabilities")]
    [InlineData("invalid-upstream")]
    public void EveryCaseHasABaselineAndNoBaselineIsOrphaned(string folder)
    {
        string dir = Path.Combine(TestFiles.Root, folder);
        var json = Directory.GetFiles(dir, "*.json").Select(Path.GetFileNameWithoutExtension).ToHashSet();
        var err = Directory.GetFiles(dir, "*.err").Select(Path.GetFileNameWithoutExtension).ToHashSet();
        Assert.Empty(err.Except(json));
        if (!TestFiles.Update)
        {
            Assert.Empty(json.Except(err));
        }
    }

    [Fact]
    public void TheCorpusIsLarge()
    {
        Assert.True(InvalidSchemas().Count() >= 60);
    }
}
