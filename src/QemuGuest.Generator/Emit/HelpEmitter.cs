using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;
using QemuGuest.Generator.Planning;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Backend "help": the help text of every generated cmdlet (synopsis, description, each
/// parameter, the output, examples, related links) from the schema docs and the overlay, as one
/// XML document in a constant, <c>QgaHelp.Text</c>. A generator cannot write files, so the
/// module's build (tools/Build-ModuleHelp.ps1) reads that constant from the built assembly and
/// writes the MAML file; it takes the syntax (parameters, types, positions, pipeline input) from
/// the cmdlets' real attributes by reflection, so help and signatures cannot drift.
/// Format: &lt;qemuguestHelp&gt;&lt;command name wire&gt; synopsis, description/para*,
/// parameter[name]*, output, example(title, code, remarks)*, link* &lt;/command&gt;...
/// </summary>
internal static class HelpEmitter
{
    public static string Emit(TypeMap map, CmdletPlan plan)
    {
        var x = new StringBuilder();
        x.Append("<qemuguestHelp>\n");
        foreach (var c in plan.Cmdlets)
        {
            var cmd = map.Schema.Find<QapiCommand>(c.Command)!;
            EmitCommand(x, map, plan, cmd, c);
        }
        x.Append("</qemuguestHelp>\n");

        var w = new SourceWriter();
        w.Banner("help");
        w.Line("namespace " + map.Namespace + ";");
        w.Line();
        w.Line("/// <summary>Help text of the generated cmdlets (see tools/Build-ModuleHelp.ps1, which turns it into MAML).</summary>");
        w.Open("internal static class QgaHelp");
        w.Line("internal const string Text =");
        var lines = x.ToString().Split('\n');
        for (int i = 0; i < lines.Length - 1; i++)
        {
            w.Line("    " + TypeMap.Literal(lines[i] + "\n") + (i == lines.Length - 2 ? ";" : " +"));
        }
        w.Close();
        return w.ToString();
    }

    private static void EmitCommand(StringBuilder x, TypeMap map, CmdletPlan plan, QapiCommand cmd, CmdletInfo c)
    {
        var (synopsis, description) = HelpText.SynopsisAndDescription(plan, cmd, c);
        x.Append("<command name=\"").Append(Esc(c.Name)).Append("\" wire=\"").Append(Esc(cmd.Name)).Append("\">\n");
        x.Append("<synopsis>").Append(Esc(synopsis)).Append("</synopsis>\n");
        x.Append("<description>\n");
        foreach (var para in HelpText.Paragraphs(description))
        {
            x.Append("<para>").Append(Esc(para)).Append("</para>\n");
        }
        x.Append("</description>\n");
        foreach (var p in c.Parameters)
        {
            string text = HelpText.Render(plan, cmd, p.Doc);
            if (p.ValidValues.Count > 0)
            {
                text += " Valid values: " + string.Join(", ", p.ValidValues) + ".";
            }
            if (HelpText.FormNote(c, p) is { } note)
            {
                text = HelpText.Sentence(text) + " " + note;
            }
            if (p.Kind == CmdletParameterKind.Struct)
            {
                text += " Give " + map.CsType(p.Type.Name) + " objects, hashtables or objects with the members as properties.";
            }
            x.Append("<parameter name=\"").Append(Esc(p.Name)).Append("\">").Append(Esc(text)).Append("</parameter>\n");
        }
        if (c.IsTest)
        {
            x.Append("<parameter name=\"Detailed\">").Append(Esc("Output an object per target (VMName, Succeeded, ResponseTime, Reply, Error) instead of $true or $false.")).Append("</parameter>\n");
        }
        if (c.Credential is not null)
        {
            x.Append("<parameter name=\"Credential\">").Append(Esc("A PSCredential (e.g. from Get-Credential) instead of the user name and password parameters: its user name and password are used.")).Append("</parameter>\n");
        }
        x.Append("<output>").Append(Esc(Output(map, plan, cmd, c))).Append("</output>\n");
        int n = 1;
        foreach (var (title, code, remarks) in Examples(plan, cmd, c))
        {
            x.Append("<example><title>Example ").Append(n++).Append(": ").Append(Esc(title)).Append("</title><code>")
                .Append(Esc(code)).Append("</code><remarks>").Append(Esc(remarks)).Append("</remarks></example>\n");
        }
        foreach (var link in Links(plan, cmd, c))
        {
            x.Append("<link>").Append(Esc(link)).Append("</link>\n");
        }
        x.Append("</command>\n");
    }

    private static string Output(TypeMap map, CmdletPlan plan, QapiCommand cmd, CmdletInfo c)
    {
        if (c.IsTest)
        {
            return "System.Boolean: $true when the agent answered, $false when it failed or could not be reached (the reason is on the verbose stream), one per target. With -Detailed, "
                + c.TestResultTypeName + " objects with VMName, Succeeded, ResponseTime, Reply (the agent's reply) and Error (the ErrorRecord of a failure).";
        }
        string returns = cmd.Doc?.Returns is { } r && r.Trim().Length > 0 ? HelpText.Render(plan, cmd, r) : string.Empty;
        if (cmd.Returns is null || !cmd.SuccessResponse)
        {
            return "None. " + (cmd.SuccessResponse ? "The agent replies with an empty object." : "On success the agent sends no reply at all.");
        }
        if (c.ScalarProperty is not null)
        {
            string valueType = c.ReturnsAs is null ? map.CsType(cmd.Returns.Name) : "System.DateTime, local time";
            return c.ScalarTypeName + ": an object with one property, " + c.ScalarProperty + " (" + valueType + "), so it pipes by property name. " + returns;
        }
        if (c.Unwrap is not null && CmdletPlanner.UnwrapMember(map, cmd, c) is { } list)
        {
            string element = map.Find(list.Type.Name) is null ? map.CsType(list.Type.Name) : map.TypesNamespace + "." + map.TypeName(list.Type.Name);
            return element + " (one per element of the reply's " + list.Name + " list), with a VMName property added. " + returns;
        }
        string type = map.TypesNamespace + "." + map.TypeName(cmd.Returns.Name);
        string times = string.Empty;
        foreach (var t in c.OutputTimes)
        {
            times += " " + TypeMap.PropertyName(t.Member, map.TypeName(cmd.Returns.Name)) + " is a local DateTime (null when the guest's value is not a representable time).";
        }
        return type + (cmd.Returns.IsArray ? " (one object per element)" : string.Empty) + ", with a VMName property added." + times + " " + returns;
    }

    private static IEnumerable<(string Title, string Code, string Remarks)> Examples(CmdletPlan plan, QapiCommand cmd, CmdletInfo c)
    {
        var required = new StringBuilder();
        foreach (var p in c.Parameters)
        {
            if (!p.Optional && p.Kind != CmdletParameterKind.RequiredSwitch)
            {
                string value = p.Example ?? "$" + Naming.ToCamelCase(p.Name).TrimStart('@');
                required.Append(p.Position is not null ? " " : " -" + p.Name + " ").Append(value);
            }
        }
        var vars = new List<string>();
        foreach (var p in c.Parameters)
        {
            if (!p.Optional && p.Kind != CmdletParameterKind.RequiredSwitch && p.Example is null)
            {
                vars.Add("$" + Naming.ToCamelCase(p.Name).TrimStart('@'));
            }
        }
        string given = vars.Count == 0 ? string.Empty : " (" + string.Join(", ", vars) + " hold the values of the parameters of the same names)";
        string what = HelpText.FirstSentence(HelpText.Render(plan, cmd, cmd.Doc?.Body ?? c.Name));
        yield return ("Run against a VM by name",
            "PS C:\\> " + c.Name + " -VMName web01" + required,
            "Runs " + cmd.Name + " in the guest of VM web01 through the relay" + given + ": " + what);
        // A command that changes the guest is shown once: run twice on the same guest (through
        // $s, then through every open session) its second run would fail (a handle closed, a
        // file moved), and every example must run as written (HelpExamples.Tests).
        string opened = "Opens a session to web01 (through the relay; New-VMGuestSession -ConnectionString unix:PATH connects to a VM's agent socket directly) once and reuses it";
        yield return c.ConfirmImpact is null
            ? ("Run through open sessions",
                "PS C:\\> $s = New-VMGuestSession -VMName web01\nPS C:\\> " + c.Name + " -Session $s" + required + "\nPS C:\\> Get-VMGuestSession | " + c.Name + required,
                opened + "; the last line runs the command through every open session, up to -ThrottleLimit at a time.")
            : ("Run through an open session",
                "PS C:\\> $s = New-VMGuestSession -VMName web01\nPS C:\\> " + c.Name + " -Session $s" + required,
                opened + " for this and later commands; Get-VMGuestSession | " + c.Name + " runs it through every open session, up to -ThrottleLimit at a time.");
        if (c.IsTest)
        {
            yield return ("Use the answer in a condition",
                "PS C:\\> if (" + c.Name + " -VMName web01" + required + ") { 'web01 passed' } else { 'web01 failed' }",
                "The cmdlet returns $true or $false for each target, never nothing; add -Verbose to see why a test failed, or -Detailed for an object with the reply and the error.");
        }
        if (c.ConfirmImpact is not null)
        {
            yield return ("See what would happen",
                "PS C:\\> " + c.Name + " -VMName web01" + required + " -WhatIf",
                "Shows the operation without running it. The cmdlet asks for confirmation when its impact (" + c.ConfirmImpact + ") is at or above $ConfirmPreference; -Confirm:$false skips the question.");
        }
    }

    private static IEnumerable<string> Links(CmdletPlan plan, QapiCommand cmd, CmdletInfo c)
    {
        var seen = new HashSet<string>(System.StringComparer.Ordinal) { c.Name };
        string all = (cmd.Doc?.Body ?? string.Empty) + "\n" + (cmd.Doc?.Returns ?? string.Empty) + "\n" + (cmd.Doc?.Errors ?? string.Empty);
        foreach (var d in cmd.Doc?.Members ?? EquatableArray<QapiDocSection>.Empty)
        {
            all += "\n" + d.Text;
        }
        foreach (Match m in Regex.Matches(all, "`([^`]+)`"))
        {
            if (plan.Find(m.Groups[1].Value) is { } other && seen.Add(other.Name))
            {
                yield return other.Name;
            }
        }
        foreach (var fixedLink in new[] { "New-VMGuestSession", "Invoke-VMGuestRpc", "about_QemuGuest" })
        {
            if (seen.Add(fixedLink))
            {
                yield return fixedLink;
            }
        }
    }

    private static string Esc(string s) => DocWriter.Escape(s).Replace("\"", "&quot;");
}
