using System.Linq;

namespace QemuGuest.Schema.Tests;

/// <summary>valid/everything.json: every construct, asserted on the checked model.</summary>
public class ValidSchemaTests
{
    private static readonly QapiSchema Schema = TestFiles.Load("valid/everything.json");

    [Fact]
    public void IncludesAreRelativeAndIdempotent()
    {
        Assert.Equal(new[] { "valid/everything.json", "valid/include/common.json" }, Schema.Files.ToArray());
        Assert.Single(Schema.Entities, e => e.Name == "Common");
        var common = Schema.Find<QapiStruct>("Common")!;
        Assert.Equal("valid/include/common.json", common.Location.File);
        Assert.Equal(new SourceLocation("valid/include/common.json", 10, 1), common.Location);
    }

    [Fact]
    public void PragmasAreRecorded()
    {
        var p = Schema.Pragmas;
        Assert.True(p.DocRequired);
        Assert.Equal(new[] { "guest-legacy_name" }, p.CommandNameExceptions.ToArray());
        Assert.Equal(new[] { "guest-get-count", "guest-list-names" }, p.CommandReturnsExceptions.ToArray());
        Assert.Equal(new[] { "Undocumented" }, p.DocumentationExceptions.ToArray());
        Assert.Equal(new[] { "LegacyStruct" }, p.MemberNameExceptions.ToArray());
    }

    [Fact]
    public void EnumValuesConditionsFeaturesAndPrefix()
    {
        var e = Schema.Find<QapiEnum>("Color")!;
        Assert.Equal("COL", e.Prefix);
        Assert.Equal(new[] { "red", "green", "blue", "infrared" }, e.Values.Select(v => v.Name).ToArray());
        Assert.Equal(new QapiConditionName("CONFIG_LINUX"), e.Values[2].If);
        Assert.True(e.Values[3].Features.Single().Name == "deprecated");
        Assert.Null(e.Values[0].If);
    }

    [Fact]
    public void StructAllMembersPutTheBaseFirst()
    {
        var d = Schema.Find<QapiStruct>("Derived")!;
        Assert.Equal("Base", d.Base);
        Assert.Equal(new[] { "name", "tags", "blob", "size" }, d.Members.Select(m => m.Name).ToArray());
        Assert.Equal(new[] { "id", "kind", "name", "tags", "blob", "size" }, d.AllMembers.Select(m => m.Name).ToArray());
        var tags = d.Members[1];
        Assert.True(tags.Optional);
        Assert.Equal(new QapiTypeRef("str", true), tags.Type);
        Assert.Equal(new QapiConditionName("CONFIG_WIN32"), d.Members[2].If);
        Assert.Equal("unstable", d.Members[3].Features.Single().Name);
        Assert.False(d.Members[0].Optional);
        Assert.True(d.IsDeprecated);
        Assert.False(d.IsImplicit);
    }

    [Fact]
    public void MemberLocationsPointAtTheKey()
    {
        var d = Schema.Find<QapiStruct>("Derived")!;
        var name = d.Members[0];
        Assert.Equal("valid/everything.json", name.Location.File);
        Assert.Equal(79, name.Location.Line);
        Assert.Equal(13, name.Location.Column);
    }

    [Fact]
    public void CommandInlineDataBecomesAnImplicitStruct()
    {
        var c = Schema.Find<QapiCommand>("guest-do-it")!;
        Assert.Equal("q_obj_guest-do-it-arg", c.Arguments);
        var arg = Schema.Find<QapiStruct>("q_obj_guest-do-it-arg")!;
        Assert.True(arg.IsImplicit);
        Assert.Null(arg.Doc);
        Assert.Equal(new[] { "path", "mode" }, arg.AllMembers.Select(m => m.Name).ToArray());
        Assert.True(arg.AllMembers[1].Optional);
        Assert.Equal(c.If, arg.If);
        // The implicit type is defined right before its command.
        int i = Schema.Entities.ToList().IndexOf(arg);
        Assert.Same(c, Schema.Entities[i + 1]);
        Assert.Equal("GuestDoItArg", Naming.ToPascalCase(arg.Name));
    }

    [Fact]
    public void CommandFlagsAndReturns()
    {
        var c = Schema.Find<QapiCommand>("guest-do-it")!;
        Assert.Equal(new QapiTypeRef("Derived", false), c.Returns);
        Assert.True(c.AllowOob);
        Assert.True(c.AllowPreconfig);
        Assert.False(c.Coroutine);
        Assert.True(c.SuccessResponse);
        Assert.True(c.Gen);
        Assert.False(c.Boxed);
        Assert.True(c.IsUnstable);
        Assert.Equal(new QapiConditionName("CONFIG_LINUX"), c.Features.Single().If);

        var boxed = Schema.Find<QapiCommand>("guest-boxed")!;
        Assert.True(boxed.Boxed);
        Assert.True(boxed.Coroutine);
        Assert.Equal("Paint", boxed.Arguments);
        Assert.Null(boxed.Returns);

        var shutdown = Schema.Find<QapiCommand>("guest-shutdown")!;
        Assert.False(shutdown.SuccessResponse);
        Assert.False(shutdown.Gen);
        Assert.Null(shutdown.Arguments);

        Assert.Equal("Base", Schema.Find<QapiCommand>("guest-named-args")!.Arguments);
        Assert.Equal(new QapiTypeRef("Derived", true), Schema.Find<QapiCommand>("guest-named-args")!.Returns);
        Assert.Equal(new QapiTypeRef("int", false), Schema.Find<QapiCommand>("guest-get-count")!.Returns);
        Assert.Equal(new QapiTypeRef("str", true), Schema.Find<QapiCommand>("guest-list-names")!.Returns);
        Assert.Null(Schema.Find<QapiCommand>("guest-empty-data")!.Arguments);
        Assert.NotNull(Schema.Find<QapiCommand>("guest-legacy_name"));
    }

    [Fact]
    public void ConditionsNest()
    {
        var c = Schema.Find<QapiCommand>("guest-do-it")!;
        var expected = new QapiConditionAll(new QapiCondition[]
        {
            new QapiConditionName("CONFIG_LINUX"),
            new QapiConditionAny(new QapiCondition[] { new QapiConditionName("CONFIG_A"), new QapiConditionName("CONFIG_B") }.ToEquatableArray()),
        }.ToEquatableArray());
        Assert.Equal(expected, c.If);
    }

    [Fact]
    public void UnionWithInlineBase()
    {
        var u = Schema.Find<QapiUnion>("Paint")!;
        Assert.Equal("q_obj_Paint-base", u.Base);
        Assert.Equal("kind", u.Discriminator);
        Assert.Equal("Color", u.DiscriminatorEnum);
        Assert.Equal(new[] { "red", "green" }, u.Variants.Select(v => v.Name).ToArray());
        Assert.Equal(new QapiTypeRef("RedBranch", false), u.Variants[0].Type);
        Assert.Equal(new QapiConditionNot(new QapiConditionName("CONFIG_WIN32")), u.Variants[1].If);
        var b = Schema.Find<QapiStruct>("q_obj_Paint-base")!;
        Assert.True(b.IsImplicit);
        Assert.Equal(new[] { "kind", "opacity" }, b.AllMembers.Select(m => m.Name).ToArray());
    }

    [Fact]
    public void UnionWithNamedBase()
    {
        var u = Schema.Find<QapiUnion>("NamedPaint")!;
        Assert.Equal("Base", u.Base);
        Assert.Equal("Color", u.DiscriminatorEnum);
    }

    [Fact]
    public void Alternates()
    {
        var a = Schema.Find<QapiAlternate>("Whence")!;
        Assert.Equal(new[] { "value", "name", "obj", "list", "nothing" }, a.Alternatives.Select(v => v.Name).ToArray());
        Assert.Equal(new QapiTypeRef("str", true), a.Alternatives[3].Type);
    }

    [Fact]
    public void EventsHaveImplicitData()
    {
        var e = Schema.Find<QapiEvent>("SOMETHING_HAPPENED")!;
        Assert.Equal("q_obj_SOMETHING_HAPPENED-arg", e.Data);
        Assert.False(e.Boxed);
        Assert.NotNull(Schema.Find<QapiStruct>("q_obj_SOMETHING_HAPPENED-arg"));
    }

    [Fact]
    public void OldStyleTypeKeyIsAStruct()
    {
        var s = Schema.Find<QapiStruct>("OldStyle")!;
        Assert.Equal("a", s.Members.Single().Name);
    }

    [Fact]
    public void DownstreamNamesAreKeptOnTheWire()
    {
        var c = Schema.Find<QapiCommand>("__com.example_guest-extension")!;
        var arg = Schema.Find<QapiStruct>(c.Arguments!)!;
        Assert.Equal("x-experimental", arg.Members.Single().Name);
        Assert.Equal("GuestExtension", Naming.ToPascalCase(c.Name));
    }

    [Fact]
    public void DocSectionsAreSplit()
    {
        var c = Schema.Find<QapiCommand>("guest-do-it")!;
        var doc = c.Doc!;
        Assert.Equal("guest-do-it", doc.Symbol);
        Assert.Equal("A command with inline arguments and every flag.", doc.Body);
        Assert.Equal("where", doc.MemberText("path"));
        Assert.Equal("how (default \"r\")", doc.MemberText("mode"));
        Assert.Equal("@Derived", doc.Returns);
        Assert.Equal("- GenericError if it fails", doc.Errors);
        Assert.Equal("3.0", doc.Since);
        Assert.Equal(new[] { new QapiDocSection("Notes", "something to note"), new QapiDocSection("TODO", "more") }, doc.Other.ToArray());
    }

    [Fact]
    public void DocFeaturesAndOldStyleOptionalMarker()
    {
        var d = Schema.Find<QapiStruct>("Derived")!.Doc!;
        Assert.Equal("a list of tags (old-style '' marker)", d.MemberText("tags"));
        Assert.Equal(new[] { "unstable", "deprecated" }, d.Features.Select(f => f.Name).ToArray());
        Assert.Equal("the size member is experimental", d.Features[0].Text);
        Assert.Equal("2.0", d.Since);
        var e = Schema.Find<QapiEnum>("Color")!.Doc!;
        Assert.Equal("use @red", e.Features.Single().Text);
        Assert.Equal("A plain enum with a prefix, a conditional value, a featured value.", e.Body);
    }

    [Fact]
    public void LoadingTwiceGivesEqualModels()
    {
        var again = TestFiles.Load("valid/everything.json");
        Assert.Equal(Schema, again);
        Assert.Equal(Schema.GetHashCode(), again.GetHashCode());
    }

    [Fact]
    public void ProjectSchemaChecks()
    {
        // The product's own schema must always load.
        var schema = SchemaLoader.Load("qga.json", TestFiles.ReadProject);
        Assert.NotEmpty(schema.Commands);
    }
}
