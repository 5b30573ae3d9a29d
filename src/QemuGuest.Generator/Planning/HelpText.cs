using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;
using QemuGuest.Generator.Emit;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>Schema doc text as PowerShell help reads it: command references become cmdlet names.</summary>
internal static class HelpText
{
    /// <summary>"`guest-exec-status`" → "Get-VMGuestExecStatus"; "@pid" → "-ProcessId" (this command's parameters).</summary>
    public static string Render(CmdletPlan plan, QapiCommand cmd, string text)
    {
        var self = plan.Find(cmd.Name);
        string r = Regex.Replace(text, "`([^`]+)`", m => plan.Find(m.Groups[1].Value) is { } other ? other.Name : m.Groups[1].Value);
        r = Regex.Replace(r, @"@([A-Za-z0-9_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9_])", m =>
        {
            if (self is not null)
            {
                foreach (var p in self.Parameters)
                {
                    if (p.Member == m.Groups[1].Value)
                    {
                        return "-" + p.Name;
                    }
                }
            }
            return m.Groups[1].Value;
        });
        return r.Trim();
    }

    /// <summary>What the parameter's PowerShell form means for the wire value (null when nothing to add).</summary>
    public static string? FormNote(CmdletInfo c, CmdletParameter p)
    {
        string? note = p.Kind switch
        {
            CmdletParameterKind.Switch => "Sent only when given: -" + p.Name + " sends true, -" + p.Name + ":$false sends false.",
            CmdletParameterKind.RequiredSwitch => "-" + p.Name + " sends true; without it, false is sent.",
            CmdletParameterKind.DateTimeNanoseconds or CmdletParameterKind.DateTimeSeconds => "A DateTimeOffset (a DateTime or text such as '2030-01-01T12:00:00Z' converts); the cmdlet sends it as " + (p.Kind == CmdletParameterKind.DateTimeSeconds ? "seconds" : "nanoseconds") + " since 1970-01-01 UTC.",
            CmdletParameterKind.SecureBase64 => "A SecureString (PowerShell prompts for it without echoing when it is missing). The cmdlet encodes it (UTF-8, then base64) itself: give the secret, not its base64 form.",
            _ => null,
        };
        if (note is null && p.Optional)
        {
            note = "Optional: the agent's default applies when not given.";
        }
        if (p.GuestPath)
        {
            note = (note is null ? string.Empty : note + " ") + "An absolute guest path (/srv/x, C:\\x): a relative one is the error RelativeGuestPath, and nothing is sent.";
        }
        if (c.Credential is { } cred && (p.Member == cred.UserMember || p.Member == cred.PasswordMember))
        {
            note = (note is null ? string.Empty : note + " ") + "Or give -Credential instead.";
        }
        return note;
    }

    /// <summary>The text ending in a full stop, so a note can follow it.</summary>
    public static string Sentence(string text)
    {
        string t = text.TrimEnd();
        return t.Length == 0 || t[t.Length - 1] is '.' or '!' or '?' or ':' ? t : t + ".";
    }

    /// <summary>
    /// The first sentence: up to the first full stop followed by a space and a capital letter
    /// (or an opening quote/bracket), so "e.g. a" or "(see x. y)" does not end it.
    /// </summary>
    public static string FirstSentence(string text)
    {
        string t = Regex.Replace(text.Trim(), @"\s+", " ");
        var m = Regex.Match(t, @"(?<!\b(?:e\.g|i\.e|etc|vs|cf))\.\s(?=[A-Z""'(`])");
        return m.Success ? t.Substring(0, m.Index + 1) : t;
    }

    public static IEnumerable<string> Paragraphs(string text)
    {
        foreach (var p in Regex.Split(text.Replace("\r\n", "\n").Trim(), @"\n\s*\n"))
        {
            // "- item" lines (QAPI doc lists, e.g. under Errors:) stay one paragraph each.
            foreach (var item in Regex.Split(p.Trim(), @"\n\s*(?=- )"))
            {
                string t = Regex.Replace(item.Trim(), @"[ \t]*\n[ \t]*", " ");
                if (t.Length > 0)
                {
                    yield return t;
                }
            }
        }
    }

    /// <summary>Synopsis: the doc body's first sentence; description: the body, Errors and Since.</summary>
    public static (string Synopsis, string Description) SynopsisAndDescription(CmdletPlan plan, QapiCommand cmd, CmdletInfo c)
    {
        string body = cmd.Doc?.Body is { } b && b.Trim().Length > 0 ? Render(plan, cmd, b) : "Runs the guest agent command " + cmd.Name + ".";
        string synopsis = c.Synopsis ?? FirstSentence(body);
        var d = new StringBuilder(body);
        d.Append("\n\nThis cmdlet runs the guest agent command ").Append(cmd.Name);
        for (int i = 0; i < c.Fixed.Count; i++)
        {
            d.Append(i == 0 ? " with " : ", ").Append(c.Fixed[i].Member).Append(" \"").Append(c.Fixed[i].Value).Append('"');
        }
        d.Append('.');
        if (cmd.Doc?.Errors is { } e && e.Trim().Length > 0)
        {
            d.Append("\n\nErrors:\n").Append(Render(plan, cmd, e));
        }
        if (cmd.If is not null)
        {
            d.Append("\n\nOnly offered by agents built with ").Append(TypeMap.ConditionText(cmd.If)).Append('.');
        }
        if (cmd.Doc?.Since is { } s && s.Trim().Length > 0)
        {
            d.Append("\n\nSince: ").Append(s.Trim()).Append('.');
        }
        return (synopsis, d.ToString());
    }
}
