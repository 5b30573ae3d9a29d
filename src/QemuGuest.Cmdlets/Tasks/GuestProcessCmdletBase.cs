using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Text;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>Parameters shared by the cmdlets that start guest programs.</summary>
public abstract class GuestProcessCmdletBase : GuestCmdlet
{
    /// <summary>Standard input for the program: a string (sent as UTF-8), string[] (one line each) or byte[].</summary>
    [Parameter]
    public object? InputObject { get; set; }

    /// <summary>Variables added to the agent's environment (NAME = value).</summary>
    [Parameter]
    public IDictionary? Environment { get; set; }

    /// <summary>The folder the program starts in (QemuGuest's agent; POSIX guests with a stock agent through sh).</summary>
    [Parameter]
    public string? WorkingDirectory { get; set; }

    /// <summary>
    /// What to start, captured on the pipeline thread: PowerShell values (hashtable keys and
    /// values, piped input objects) become plain strings and bytes here, not in the engine.
    /// </summary>
    internal GuestProcessStartInfo Capture(string path, string[] args)
    {
        var environment = new List<KeyValuePair<string, string>>();
        if (Environment is not null)
        {
            foreach (DictionaryEntry e in Environment)
            {
                environment.Add(new KeyValuePair<string, string>(
                    LanguagePrimitives.ConvertTo<string>(e.Key), LanguagePrimitives.ConvertTo<string>(e.Value)));
            }
        }
        return new GuestProcessStartInfo(path, args)
        {
            Environment = environment,
            WorkingDirectory = WorkingDirectory,
            StandardInput = InputBytes(InputObject),
        };
    }

    private static byte[]? InputBytes(object? input)
    {
        object? value = input is PSObject ps ? ps.BaseObject : input;
        return value switch
        {
            null => null,
            byte[] bytes => bytes,
            string s => new UTF8Encoding(false).GetBytes(s),
            IEnumerable e => new UTF8Encoding(false).GetBytes(JoinLines(e)),
            _ => new UTF8Encoding(false).GetBytes(LanguagePrimitives.ConvertTo<string>(value)),
        };
    }

    private static string JoinLines(IEnumerable items)
    {
        var sb = new StringBuilder();
        foreach (var item in items)
        {
            sb.Append(item is PSObject p ? p.BaseObject : item).Append('\n');
        }
        return sb.ToString();
    }
}
