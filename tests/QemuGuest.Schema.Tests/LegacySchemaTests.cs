using System.Linq;

namespace QemuGuest.Schema.Tests;

public class LegacySchemaTests
{
    private static readonly QapiSchema Schema = TestFiles.Load("valid/legacy.json");

    [Fact]
    public void OldPragmaNamesMapToCurrentOnes()
    {
        Assert.Equal(new[] { "guest-get-time" }, Schema.Pragmas.CommandReturnsExceptions.ToArray());
        Assert.Equal(new[] { "CamelMembers" }, Schema.Pragmas.MemberNameExceptions.ToArray());
        Assert.Equal(new QapiTypeRef("int", false), Schema.Find<QapiCommand>("guest-get-time")!.Returns);
    }

    [Fact]
    public void OldRulesAllowUnderscoresAndUndocumentedMembers()
    {
        var info = Schema.Find<QapiStruct>("GuestAgentInfo")!;
        Assert.Equal(new[] { "version", "supported_commands" }, info.Members.Select(m => m.Name).ToArray());
        Assert.Null(info.Doc!.MemberText("supported_commands"));
        Assert.Equal("camelCase", Schema.Find<QapiStruct>("CamelMembers")!.Members.Single().Name);
    }

    [Fact]
    public void OldConditionListsAndDefined()
    {
        var s = Schema.Find<QapiStruct>("OldConditions")!;
        Assert.Equal(new QapiConditionAll(new QapiCondition[] { new QapiConditionName("CONFIG_LINUX"), new QapiConditionName("CONFIG_POSIX") }.ToEquatableArray()), s.If);
        Assert.Equal("old optional marker", s.Doc!.MemberText("a"));
        Assert.NotNull(Schema.Find<QapiStruct>("OldType"));
    }
}
