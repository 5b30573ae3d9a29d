using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using QemuGuest.Generator.Planning;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// The "cmdlets" and "help" backends: the default naming rule, the scalar-result property rule,
/// baselines of PowerShellScenarios/NAME (schema.json + schema.powershell.json), and overlay /
/// naming problems as QG01xx diagnostics. (The generated cmdlets compile and run in the module
/// build and its Pester suites, where PowerShell is available.)
/// </summary>
public sealed class PowerShellBackendTests
{
    private const string Backends = "cmdlets,help";

    [Theory]
    [InlineData("guest-get-osinfo", "Get", "VMGuestOsinfo")]
    [InlineData("guest-get-foo-bar", "Get", "VMGuestFooBar")]
    [InlineData("guest-set-time", "Set", "VMGuestTime")]
    [InlineData("guest-remove-thing", "Remove", "VMGuestThing")]
    [InlineData("guest-frobnicate", "Invoke", "VMGuestFrobnicate")]
    [InlineData("guest-fsfreeze-thaw", "Invoke", "VMGuestFsfreezeThaw")]
    [InlineData("guest-get", "Invoke", "VMGuestGet")]
    [InlineData("__com.example_guest-get-gadget-info", "Get", "VMGuestGadgetInfo")]
    [InlineData("ping", "Invoke", "VMGuestPing")]
    public void DefaultNamingRule(string command, string verb, string noun)
    {
        Assert.Equal((verb, noun), CmdletPlanner.DefaultName(command));
    }

    public static IEnumerable<object[]> Scenarios() =>
        Directory.GetDirectories(Path.Combine(GeneratorHarness.TestsDirectory(), "PowerShellScenarios"))
            .Select(d => new object[] { Path.GetFileName(d) })
            .OrderBy(o => (string)o[0], StringComparer.Ordinal);

    private static Dictionary<string, string> ScenarioFiles(string scenario)
    {
        string dir = Path.Combine(GeneratorHarness.TestsDirectory(), "PowerShellScenarios", scenario);
        return Directory.GetFiles(dir, "*.json").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Baselines(string scenario)
    {
        var run = GeneratorHarness.Run(ScenarioFiles(scenario), Backends);
        Assert.Empty(run.Diagnostics.Select(d => d.ToString()));
        string dir = Path.Combine(GeneratorHarness.TestsDirectory(), "PowerShellScenarios", scenario);
        bool update = Environment.GetEnvironmentVariable("QEMUGUEST_UPDATE_BASELINES") == "1";
        var generated = run.Result.Results.Single().GeneratedSources;
        Assert.Equal(new[] { "Qga.Cmdlets.g.cs", "Qga.Help.g.cs" }, generated.Select(s => s.HintName).OrderBy(s => s, StringComparer.Ordinal));
        var mismatches = new List<string>();
        foreach (var s in generated)
        {
            string path = Path.Combine(dir, s.HintName + ".txt");
            string text = s.SourceText.ToString();
            if (update)
            {
                File.WriteAllText(path, text);
                continue;
            }
            if ((File.Exists(path) ? File.ReadAllText(path) : "<missing baseline>") != text)
            {
                mismatches.Add(s.HintName);
            }
        }
        Assert.True(mismatches.Count == 0, "baselines differ (run with QEMUGUEST_UPDATE_BASELINES=1 and review the diff): " + string.Join(", ", mismatches));
    }

    [Fact]
    public void ScenarioShapes()
    {
        var text = Generated("cmdlets", "Qga.Cmdlets.g.cs");
        // Overlay names, impact and positions.
        Assert.Contains("[Cmdlet(VerbsCommon.Set, \"VMGuestWidget\", DefaultParameterSetName = GuestCmdlet.SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]", text);
        Assert.Contains("[Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]\n    [Alias(\"Widgets\")]\n    [ValidateNotNull]\n    public object[] Widget { get; set; }", text);
        // Enum → ValidateSet of wire names; alternate of int|enum → string without a set; optional bool → switch.
        Assert.Contains("[ValidateSet(\"red\", \"green\")]\n    public string? Colour { get; set; }", text);
        Assert.Contains("public string? Where { get; set; }", text);
        Assert.Contains("public SwitchParameter Force { get; set; }", text);
        // Default names: Get-/Invoke- with ShouldProcess Medium for non-Get; required arguments positional.
        Assert.Contains("[Cmdlet(VerbsCommon.Get, \"VMGuestWidgets\", DefaultParameterSetName = GuestCmdlet.SessionParameterSet)]", text);
        Assert.Contains("[Cmdlet(VerbsLifecycle.Invoke, \"VMGuestFrobnicate\", DefaultParameterSetName = GuestCmdlet.SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]", text);
        Assert.Contains("[Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]\n    public long Level { get; set; }", text);
        // Scalar results wrapped with a property named from the doc; enum scalars as wire names.
        Assert.Contains("GeneratedCmdletSupport.Scalar(\"QemuGuest.Cmdlets.GuestSetWidgetsResult\", \"Count\", result)", text);
        Assert.Contains("GeneratedCmdletSupport.Scalar(\"QemuGuest.Cmdlets.GuestOpenWidgetResult\", \"Handle\", result)", text);
        Assert.Contains("GeneratedCmdletSupport.Scalar(\"QemuGuest.Cmdlets.GuestGetGadgetInfoResult\", \"Colour\", global::QemuGuest.Protocol.Qga.ColourExtensions.ToWireName(result))", text);
        // Schema types are qualified inside cmdlet classes (the Widget parameter would hide the Widget type).
        Assert.Contains("IReadOnlyList<global::QemuGuest.Protocol.Qga.Widget> a_widgets;", text);
        // No response → the client's no-response method is awaited and nothing is written.
        Assert.Contains("await client.GuestFrobnicateAsync(level: a_level, loudly: a_loudly, options: context.CallOptions, cancellationToken: context.CancellationToken).ConfigureAwait(false);", text);
        // Lists are written element by element.
        Assert.Contains("foreach (var item in result)", text);
        // Never a System.Text.Json type (the module loads it privately).
        Assert.DoesNotContain("JsonElement", text);
        Assert.DoesNotContain("System.Text.Json", text);
    }

    [Fact]
    public void SecretsAreSecureStringsWithACredentialSet()
    {
        var text = Generated("cmdlets", "Qga.Cmdlets.g.cs");
        // 'as': 'secure-base64' → a mandatory SecureString in the two default sets, encoded per call.
        Assert.Contains("[Parameter(ParameterSetName = GuestCmdlet.SessionParameterSet, Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]\n"
            + "    [Parameter(ParameterSetName = GuestCmdlet.VMNameParameterSet, Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]\n"
            + "    public global::System.Security.SecureString Secret { get; set; } = null!;", text);
        Assert.Contains("string a_secret = GeneratedCmdletSupport.SecureBase64(a_secretSecret);", text);
        // 'credential' → -Credential in its own sets, -Session/-VMName re-declared in both.
        Assert.Contains("[Parameter(ParameterSetName = GuestCmdlet.SessionCredentialParameterSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]", text);
        Assert.Contains("public PSCredential Credential { get; set; } = null!;", text);
        Assert.Contains("public new global::QemuGuest.Cmdlets.Sessions.GuestSession[] Session { get => base.Session; set => base.Session = value; }", text);
        Assert.Contains("var a_user = Credential is null ? UserName : Credential.UserName;", text);
        Assert.Contains("var a_secretSecret = Credential is null ? Secret : Credential.Password;", text);
        // 'as': 'switch' on a required bool → a switch that is never mandatory and always sent.
        Assert.Contains("[Parameter(ValueFromPipelineByPropertyName = true)]\n    public SwitchParameter Hashed { get; set; }", text);
        Assert.Contains("bool a_hashed = Hashed.IsPresent;", text);
        // The secret never shows in -WhatIf/-Confirm.
        Assert.Contains("\"Secret\", (object?)null", text);
        // The overlay's 'help' replaces the member doc that describes the wire form.
        Assert.Contains("The secret, in clear text.", text);
        Assert.DoesNotContain("The secret, base64-encoded", text);
    }

    [Theory]
    [InlineData("Sets the password, e.g. to regain access. More.", "Sets the password, e.g. to regain access.")]
    [InlineData("Reads facts (i.e. names). Then more.", "Reads facts (i.e. names).")]
    [InlineData("Runs it. \"Quoted\" next.", "Runs it.")]
    [InlineData("Version 1.5 of it. Next.", "Version 1.5 of it.")]
    [InlineData("No full stop", "No full stop")]
    public void SynopsisIsTheFirstSentenceNotCutAtAbbreviations(string body, string synopsis)
    {
        Assert.Equal(synopsis, HelpText.FirstSentence(body));
    }

    [Fact]
    public void TypesFollowPowerShell()
    {
        var text = Generated("cmdlets", "Qga.Cmdlets.g.cs");
        // 'as': 'datetime-ns' → DateTimeOffset in, nanoseconds on the wire (range errors are ArgumentExceptions → InvalidArgument).
        Assert.Contains("public global::System.DateTimeOffset? Time { get; set; }", text);
        Assert.Contains("a_time = Time is null ? null : (long)GeneratedCmdletSupport.ToUnixNanoseconds(Time.Value, \"Time\");", text);
        // 'values' → ValidateSet on a str member.
        Assert.Contains("[ValidateSet(\"step\", \"slew\", \"reset\")]\n    public string? How { get; set; }", text);
        // 'returns-as' → the scalar result is a DateTime.
        Assert.Contains("GeneratedCmdletSupport.Scalar(\"QemuGuest.Cmdlets.GuestGetClockResult\", \"Time\", GeneratedCmdletSupport.FromUnixNanoseconds(result))", text);
        // 'output-times' → a note shadows the wire number.
        Assert.Contains("context.WriteObject(GeneratedCmdletSupport.WithTime(result, \"When\", seconds: true));", text);
        // 'unwrap' → one object per element, typed as the element.
        Assert.Contains("[OutputType(typeof(global::QemuGuest.Protocol.Qga.Stamp))]\npublic sealed partial class GetVMGuestStampsCommand", text);
        Assert.Contains("foreach (var item in result.Items)", text);
        // 'fixed' → a variant cmdlet: no parameter for the member, the value sent and shown by -WhatIf.
        Assert.Contains("internal const string QgaFixedArguments = \"how=reset\";", text);
        Assert.Contains("GeneratedCmdletSupport.Describe(\"Reset-VMGuestClock (guest-set-clock)\", \"How\", \"reset\", \"Time\", Time)", text);
        Assert.Contains("await client.GuestSetClockAsync(time: a_time, how: \"reset\",", text);
    }

    [Fact]
    public void TestCmdletsAnswerABoolPerTarget()
    {
        var text = Generated("cmdlets", "Qga.Cmdlets.g.cs");
        Assert.Contains("[OutputType(typeof(bool))]\n[OutputType(\"QemuGuest.Cmdlets.GuestTestWidgetTestResult\")]\npublic sealed partial class TestVMGuestWidgetCommand : GuestCmdlet", text);
        Assert.Contains("public SwitchParameter Detailed { get; set; }", text);
        // A failed call and an unreachable target both answer (false or the -Detailed object), never nothing.
        Assert.Contains("catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)", text);
        Assert.Contains("context.WriteObject(GeneratedCmdletSupport.TestAnswer(\"QemuGuest.Cmdlets.GuestTestWidgetTestResult\", context.Session.TargetName, testDetailed, clock.Elapsed, null, error));", text);
        Assert.Contains("protected override void OnTargetUnavailable(string target, ErrorRecord record)", text);
    }

    [Fact]
    public void ATestCmdletMemberNamedDetailedIsReported()
    {
        var files = ScenarioFiles("cmdlets");
        files["schema.powershell.json"] = "{ 'command': 'guest-test-widget', 'cmdlet': 'Test-VMGuestWidget',\n  'parameters': { 'name': { 'name': 'Detailed' } } }\n";
        var run = GeneratorHarness.Run(files, Backends);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0103", d.Id);
        Assert.Equal("The parameter name or alias 'Detailed' (argument 'name' of command 'guest-test-widget') collides with the -Detailed switch every Test- cmdlet has", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("'parameters': { 'user': { 'as': 'switch' } }", "'as': 'switch' of parameter 'user' needs a member of type 'bool', not 'str'")]
    [InlineData("'parameters': { 'hashed': { 'as': 'secure-base64' } }", "'as': 'secure-base64' of parameter 'hashed' needs a member of type 'str', not 'bool'")]
    [InlineData("'parameters': { 'user': { 'as': 'plain' } }", "'as' of parameter 'user' must be one of 'secure-base64', 'switch', 'datetime-ns', 'datetime-s'")]
    [InlineData("'parameters': { 'user': { 'as': 'datetime-ns' } }", "'as': 'datetime-ns' of parameter 'user' needs a member of type 'int', not 'str'")]
    [InlineData("'parameters': { 'hashed': { 'values': [ 'a' ] } }", "'values' of parameter 'hashed' needs a 'str' member (enums get theirs from the schema)")]
    [InlineData("'returns-as': 'datetime-ns'", "'returns-as': 'datetime-ns' needs a command returning 'int', not 'nothing'")]
    [InlineData("'unwrap': 'user'", "'unwrap' must name the one member, a list, of the returned struct")]
    [InlineData("'output-times': { 'user': 'datetime-s' }", "'output-times' member 'user' must be a 'number' member of the returned type 'nothing'")]
    [InlineData("'fixed': { 'hashed': 'x' }", "'fixed' member 'hashed' must be a 'str' argument of command 'guest-set-secret' with a string value")]
    [InlineData("'credential': { 'user': 'user', 'password': 'secret' }", "'password' of 'credential' names 'secret', whose parameter needs 'as': 'secure-base64'")]
    [InlineData("'credential': { 'user': 'hashed', 'password': 'secret' }", "'user' of 'credential' must name a 'str' argument of command 'guest-set-secret'")]
    public void ParameterFormErrorsAreReported(string overlayKeys, string message)
    {
        var files = ScenarioFiles("cmdlets");
        files["schema.powershell.json"] = "{ 'command': 'guest-set-secret', 'cmdlet': 'Set-VMGuestSecret',\n  " + overlayKeys + " }\n";
        var run = GeneratorHarness.Run(files, Backends);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0101", d.Id);
        Assert.Equal("In overlay for command 'guest-set-secret': " + message, d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void HelpTextIsWellFormedXmlWithCrossReferences()
    {
        string source = Generated("cmdlets", "Qga.Help.g.cs");
        // Pull the concatenated string literal back out by compiling nothing: read the lines.
        var lines = source.Split('\n').Where(l => l.TrimStart().StartsWith("\"", StringComparison.Ordinal));
        string xml = string.Concat(lines.Select(l => System.Text.RegularExpressions.Regex.Unescape(l.Trim().TrimEnd('+', ';', ' ').Trim('"'))));
        var doc = System.Xml.Linq.XDocument.Parse(xml);
        var commands = doc.Root!.Elements("command").ToList();
        Assert.Equal(12, commands.Count);
        var get = commands.Single(c => (string?)c.Attribute("name") == "Get-VMGuestWidgets");
        Assert.Equal("Lists the widgets.", (string?)get.Element("synopsis"));
        // `guest-set-widgets` in the doc becomes the cmdlet name, and a related link.
        Assert.Contains("See Set-VMGuestWidget.", (string?)get.Element("description")!.Elements("para").First());
        Assert.Contains(get.Elements("link"), l => l.Value == "Set-VMGuestWidget");
        var set = commands.Single(c => (string?)c.Attribute("name") == "Set-VMGuestWidget");
        Assert.Equal(new[] { "Widget", "Colour", "Where", "Force" }, set.Elements("parameter").Select(p => (string)p.Attribute("name")!));
        Assert.Contains("-WhatIf", string.Concat(set.Elements("example").Select(e => e.Value)));
        // A parameter's overlay 'example' replaces the $variable placeholder.
        var open = commands.Single(c => (string?)c.Attribute("name") == "Open-VMGuestWidget");
        Assert.Contains("Open-VMGuestWidget -VMName web01 /srv/w1", (string?)open.Element("example")!.Element("code"));
        Assert.DoesNotContain("$path", string.Concat(open.Elements("example").Select(e => e.Value)));
        Assert.All(commands, c => Assert.NotEmpty(c.Elements("example")));
    }

    [Fact]
    public void OverlayErrorIsLocated()
    {
        var files = ScenarioFiles("cmdlets");
        files["schema.powershell.json"] = "{ 'command': 'guest-open-widget',\n  'cmdlet': 'Frob-VMGuestWidget' }\n";
        var run = GeneratorHarness.Run(files, Backends);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0101", d.Id);
        Assert.Contains("'Frob' of cmdlet 'Frob-VMGuestWidget' is not an approved PowerShell verb", d.GetMessage(CultureInfo.InvariantCulture));
        var span = d.Location.GetLineSpan();
        Assert.Equal(GeneratorHarness.SchemaDir + "schema.powershell.json", span.Path);
        Assert.Equal(1, span.StartLinePosition.Line);
        Assert.Empty(run.Result.Results.Single().GeneratedSources);
    }

    [Theory]
    [InlineData("'name': 'Session'", "QG0103", "The parameter name or alias 'Session' (argument 'path' of command 'guest-open-widget') collides with the GuestCmdlet parameter 'Session'")]
    [InlineData("'name': 'Host'", "QG0103", "The parameter name or alias 'Host' (argument 'path' of command 'guest-open-widget') collides with the cmdlet member 'Host'")]
    // Common parameters are already refused by the overlay checker (QemuGuest.Schema).
    [InlineData("'aliases': [ 'ea' ]", "QG0101", "In overlay for command 'guest-open-widget': alias 'ea' of parameter 'path' collides with PowerShell's common parameter 'ErrorAction'")]
    public void ParameterNameClashIsReported(string overlayParameter, string id, string message)
    {
        var files = ScenarioFiles("cmdlets");
        files["schema.powershell.json"] = "{ 'command': 'guest-open-widget', 'cmdlet': 'Open-VMGuestWidget',\n  'parameters': { 'path': { " + overlayParameter + " } } }\n";
        var run = GeneratorHarness.Run(files, Backends);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(message, d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void CmdletNameClashIsReported()
    {
        var files = ScenarioFiles("cmdlets");
        // guest-get-widgets defaults to Get-VMGuestWidgets; the overlay gives that name to another command.
        files["schema.powershell.json"] = "{ 'command': 'guest-open-widget', 'cmdlet': 'Get-VMGuestWidgets' }\n";
        var run = GeneratorHarness.Run(files, Backends);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0102", d.Id);
        Assert.Equal("The cmdlet name 'Get-VMGuestWidgets' of command 'guest-open-widget' is already used by command 'guest-get-widgets'", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void WithoutAnOverlayEveryCommandGetsItsDefaultName()
    {
        var files = ScenarioFiles("cmdlets");
        files.Remove("schema.powershell.json");
        var run = GeneratorHarness.Run(files, Backends);
        Assert.Empty(run.Diagnostics);
        string text = run.Result.Results.Single().GeneratedSources.Single(s => s.HintName == "Qga.Cmdlets.g.cs").SourceText.ToString();
        Assert.Contains("public sealed partial class SetVMGuestWidgetsCommand : GuestCmdlet", text);
        Assert.Contains("public sealed partial class OpenVMGuestWidgetCommand : GuestCmdlet", text);
    }

    [Fact]
    public void RealSchemaPlansOneCmdletPerCommandWithoutDiagnostics()
    {
        string schemaDir = Path.Combine(GeneratorHarness.TestsDirectory(), "..", "..", "schema");
        var files = Directory.GetFiles(schemaDir, "*.json").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        var driver = GeneratorHarness.Driver(GeneratorHarness.Files(files), GeneratorHarness.Options(Backends, ns: "QemuGuest.Cmdlets", root: "qga.json"));
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(), out _, out var diagnostics);
        Assert.Empty(diagnostics.Select(d => d.ToString()));
        string text = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "Qga.Cmdlets.g.cs").SourceText.ToString();
        int commands = files.Where(f => !f.Key.Contains("powershell", StringComparison.Ordinal))
            .Sum(f => System.Text.RegularExpressions.Regex.Matches(f.Value, @"(?m)^\s*\{\s*'command':").Count);
        // One cmdlet per command, plus the overlay's variants ('fixed': Restart-VMGuest), minus
        // the commands only an engine may send ('no-cmdlet': the bulk mode's frames follow its reply).
        int variants = System.Text.RegularExpressions.Regex.Matches(text, "internal const string QgaFixedArguments").Count;
        Assert.Equal(1, variants);
        int noCmdlet = System.Text.RegularExpressions.Regex.Matches(files["qga.powershell.json"], @"(?m)^\s*'no-cmdlet':").Count;
        Assert.Equal(1, noCmdlet);
        Assert.DoesNotContain("__com.qemuguest_guest-file-bulk\"", text);
        Assert.Equal(commands + variants - noCmdlet, System.Text.RegularExpressions.Regex.Matches(text, "internal const string QgaCommandName").Count);
        Assert.Contains("class GetVMGuestExecStatusCommand", text);
        Assert.Contains("[Alias(\"Pid\")]", text);
    }

    // Dropping QEMU's own qga/qapi-schema.json in for qga.json loses the include of our extensions:
    // the overlay's first extension entry fails, and the message says what to keep.
    [Fact]
    public void ReplacedRootWithoutOurIncludeSaysToKeepIt()
    {
        string schemaDir = Path.Combine(GeneratorHarness.TestsDirectory(), "..", "..", "schema");
        var files = Directory.GetFiles(schemaDir, "*.json").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        Assert.Contains("{ 'include': 'qga-qemuguest.json' }", files["qga.json"]);
        files["qga.json"] = files["qga.json"].Replace("{ 'include': 'qga-qemuguest.json' }", string.Empty);

        // The capabilities side file is read with the schema, so it is the first to notice.
        var d = Assert.Single(Diagnostics(files));
        Assert.Equal("QG0001", d.Id);
        string message = d.GetMessage(CultureInfo.InvariantCulture);
        Assert.Contains("'__com.qemuguest_", message);
        Assert.Contains("is not a command of the schema", message);
        Assert.Contains("must keep { 'include': 'qga-qemuguest.json' }", message);

        // Without one, the overlay says the same.
        Assert.True(files.Remove("qga.capabilities.json"));
        d = Assert.Single(Diagnostics(files));
        Assert.Equal("QG0101", d.Id);
        message = d.GetMessage(CultureInfo.InvariantCulture);
        Assert.Contains("overlay uses unknown command '__com.qemuguest_", message);
        Assert.Contains("must keep { 'include': 'qga-qemuguest.json' }", message);

        static System.Collections.Immutable.ImmutableArray<Microsoft.CodeAnalysis.Diagnostic> Diagnostics(Dictionary<string, string> files)
        {
            var driver = GeneratorHarness.Driver(GeneratorHarness.Files(files), GeneratorHarness.Options(Backends, ns: "QemuGuest.Cmdlets", root: "qga.json"));
            driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(), out _, out var diagnostics);
            return diagnostics;
        }
    }

    private static string Generated(string scenario, string hint) =>
        GeneratorHarness.Run(ScenarioFiles(scenario), Backends).Result.Results.Single().GeneratedSources.Single(s => s.HintName == hint).SourceText.ToString();
}
