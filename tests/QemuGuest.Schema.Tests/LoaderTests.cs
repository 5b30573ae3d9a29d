using System.Collections.Generic;

namespace QemuGuest.Schema.Tests;

/// <summary>SchemaLoader's contract with in-memory files: paths, includes, errors.</summary>
public class LoaderTests
{
    private static QapiSchema Load(string root, Dictionary<string, string> files) =>
        SchemaLoader.Load(root, p => files.TryGetValue(p, out var t) ? t : null);

    [Fact]
    public void MissingRootIsASchemaError()
    {
        var e = Assert.Throws<SchemaError>(() => Load("nope.json", new()));
        Assert.Equal("nope.json:1:1: can't read schema file 'nope.json': No such file or directory", e.Text);
    }

    [Fact]
    public void IncludesResolveRelativeToTheIncludingFileWithAnySeparator()
    {
        var files = new Dictionary<string, string>
        {
            ["schema/qga.json"] = "{ 'include': 'parts\\\\a.json' }\n{ 'include': './parts/b.json' }",
            ["schema/parts/a.json"] = "{ 'include': '../parts/b.json' }\n{ 'command': 'guest-a' }",
            ["schema/parts/b.json"] = "{ 'command': 'guest-b' }",
        };
        var s = Load("schema/qga.json", files);
        Assert.Equal(new[] { "schema/qga.json", "schema/parts/a.json", "schema/parts/b.json" }, System.Linq.Enumerable.ToArray(s.Files));
        Assert.Equal(new[] { "guest-b", "guest-a" }, System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Select(s.Commands, c => c.Name)));
    }

    [Fact]
    public void AbsoluteRootPathsStayAbsolute()
    {
        var files = new Dictionary<string, string>
        {
            ["/x/qga.json"] = "{ 'include': 'y.json' }",
            ["/x/y.json"] = "{ 'command': 'guest-y' }",
        };
        Assert.NotNull(Load("/x/qga.json", files).Find("guest-y"));
    }

    [Fact]
    public void ErrorTextHasQemusShape()
    {
        var files = new Dictionary<string, string> { ["a.json"] = "\n  { 'command': 'foo', 'returns': 'Nope' }" };
        var e = Assert.Throws<SchemaError>(() => Load("a.json", files));
        Assert.Equal("In command 'foo':", e.Context);
        Assert.Equal(new SourceLocation("a.json", 2, 34), e.Location);
        Assert.Equal("command's 'returns' uses unknown type 'Nope'", e.Message);
        Assert.Equal("a.json: In command 'foo':\na.json:2:34: command's 'returns' uses unknown type 'Nope'", e.Text);
        Assert.Equal(e.Text, e.ToString());
    }

    [Fact]
    public void EmptyFileAndFileWithoutFinalNewline()
    {
        Assert.True(Load("e.json", new() { ["e.json"] = "" }).Entities.IsEmpty);
        Assert.NotNull(Load("n.json", new() { ["n.json"] = "{ 'command': 'guest-x' }" }).Find("guest-x"));
        Assert.NotNull(Load("c.json", new() { ["c.json"] = "{ 'command': 'guest-x' } # trailing comment" }).Find("guest-x"));
    }

    [Fact]
    public void EscapedBackslashInStrings()
    {
        var s = Load("d.json", new() { ["d.json"] = "##\n# @guest-x:\n#\n# Since: 1.0\n##\n{ 'command': 'guest-x', 'if': 'CONFIG_X' }\n" });
        Assert.Equal("1.0", s.Find("guest-x")!.Doc!.Since);
        var e = Assert.Throws<SchemaError>(() => Load("b.json", new() { ["b.json"] = "{ 'command': 'a\\\\b' }" }));
        Assert.Equal("In command 'a\\b':", e.Context);
    }

    [Fact]
    public void HugeNestingIsAnErrorNotAStackOverflow()
    {
        string text = "{ 'command': 'foo', 'data': " + new string('[', 100_000);
        var e = Assert.Throws<SchemaError>(() => Load("deep.json", new() { ["deep.json"] = text }));
        Assert.Contains("nesting deeper than", e.Message);
    }

    [Theory]
    [InlineData("schema/qga.json", "schema/qga.json")]
    [InlineData("schema\\parts\\..\\qga.json", "schema/qga.json")]
    [InlineData("./a/./b.json", "a/b.json")]
    [InlineData("../up/a.json", "../up/a.json")]
    [InlineData("/abs/x/../y.json", "/abs/y.json")]
    [InlineData("C:\\src\\schema\\qga.json", "C:/src/schema/qga.json")]
    [InlineData("\\\\server\\share\\qga.json", "//server/share/qga.json")]
    public void NormalizePath(string path, string expected) => Assert.Equal(expected, SchemaLoader.NormalizePath(path));

    [Fact]
    public void CrlfAndBomDoNotMatter()
    {
        string lf = TestFiles.Read("valid/qemu-compat.json")!;
        var expected = Load("s.json", new() { ["s.json"] = lf });
        var crlf = Load("s.json", new() { ["s.json"] = "\uFEFF" + lf.Replace("\n", "\r\n") });
        Assert.Equal(expected, crlf);
    }

    [Fact]
    public void CommandsAndTypesLiveInSeparateNamespaces()
    {
        // QEMU's qga has both the command guest-file-read and the struct GuestFileRead.
        var s = Load("n.json", new() { ["n.json"] = "{ 'struct': 'GuestFileRead', 'data': {} }\n{ 'command': 'guest-file-read', 'returns': 'GuestFileRead' }" });
        Assert.NotNull(s.Find<QapiCommand>("guest-file-read"));
    }
}
