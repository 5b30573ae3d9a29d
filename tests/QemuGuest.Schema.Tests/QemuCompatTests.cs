using System.Linq;

namespace QemuGuest.Schema.Tests;

/// <summary>valid/qemu-compat.json: the constructs QEMU's qga schema uses, in QEMU's style.</summary>
public class QemuCompatTests
{
    private static readonly QapiSchema Schema = TestFiles.Load("valid/qemu-compat.json");

    [Fact]
    public void PragmasAndExceptions()
    {
        Assert.True(Schema.Pragmas.DocRequired);
        Assert.Equal(new[] { "GuestAgentInfo" }, Schema.Pragmas.MemberNameExceptions.ToArray());
        Assert.Contains("guest-file-open", Schema.Pragmas.CommandReturnsExceptions);
        Assert.Equal(new[] { "GuestCpuStatsType" }, Schema.Pragmas.DocumentationExceptions.ToArray());
        Assert.Equal("supported_commands", Schema.Find<QapiStruct>("GuestAgentInfo")!.Members[1].Name);
    }

    [Fact]
    public void AlternatesOfBoolAndEnumAndOfIntAndEnum()
    {
        var capture = Schema.Find<QapiAlternate>("GuestExecCaptureOutput")!;
        Assert.Equal(new[] { "bool", "GuestExecCaptureOutputMode" }, capture.Alternatives.Select(a => a.Type.Name).ToArray());
        var whence = Schema.Find<QapiAlternate>("GuestFileWhence")!;
        Assert.Equal(new[] { "int", "QGASeek" }, whence.Alternatives.Select(a => a.Type.Name).ToArray());
    }

    [Fact]
    public void ConditionalEnumValueAndDefinitions()
    {
        var mode = Schema.Find<QapiEnum>("GuestExecCaptureOutputMode")!;
        Assert.Equal(new QapiConditionNot(new QapiConditionName("CONFIG_WIN32")), mode.Values.Last().If);
        Assert.Equal(new QapiConditionName("CONFIG_WIN32"), Schema.Find("guest-get-devices")!.If);
        Assert.IsType<QapiConditionAny>(Schema.Find("guest-fsfreeze-freeze")!.If);
        Assert.IsType<QapiConditionAll>(Schema.Find("guest-get-load")!.If);
    }

    [Fact]
    public void UnionsWithInlineBases()
    {
        var u = Schema.Find<QapiUnion>("GuestCpuStats")!;
        Assert.Equal("q_obj_GuestCpuStats-base", u.Base);
        Assert.Equal("GuestCpuStatsType", u.DiscriminatorEnum);
        Assert.Equal("type", Schema.Find<QapiStruct>(u.Base)!.AllMembers.Single().Name);
        Assert.Equal(new QapiConditionName("CONFIG_POSIX"), Schema.Find<QapiStruct>(u.Base)!.If);
    }

    [Fact]
    public void DocsInCurrentQemuStyle()
    {
        var doc = Schema.Find("guest-sync-delimited")!.Doc!;
        Assert.StartsWith("Echo back a unique integer value", doc.Body);
        Assert.Contains(".. note::", doc.Body);
        Assert.Equal("The unique integer id passed in by the client", doc.Returns);
        Assert.Equal("1.1", doc.Since);
        Assert.Contains(".. qmp-example::\n\n    -> { \"execute\"", doc.Body);
        var open = Schema.Find("guest-file-open")!.Doc!;
        Assert.Equal("- If the file cannot be opened, GenericError", open.Errors);
        var status = Schema.Find("GuestExecStatus")!.Doc!;
        Assert.Equal("signal number (linux) or unhandled exception code (windows)\nif the process was abnormally terminated.", status.MemberText("signal"));
        var shutdown = Schema.Find("guest-shutdown")!.Doc!;
        Assert.Equal("Initiate guest-activated shutdown.\n\nThis command does NOT return a response on success.  Success\ncondition is indicated by the VM exiting with a zero exit status.", shutdown.Body);
        Assert.False(Schema.Find<QapiCommand>("guest-shutdown")!.SuccessResponse);
    }

    [Fact]
    public void ContinuationIndentIsSetByTheFirstContinuationLine()
    {
        var doc = Schema.Find("guest-set-vcpus")!.Doc!;
        Assert.Equal("The processors.  Continuation lines are indented by four\nspaces in current QEMU.", doc.MemberText("vcpus"));
        Assert.Equal("The length of the sublist processed.  Possible\ncases:\n\n- 0:\n  nothing was done.\n- length(@vcpus):\n  all done.", doc.Returns);
        Assert.Equal("- If the first node failed.\n  Nothing changed.", doc.Errors);
    }
}
