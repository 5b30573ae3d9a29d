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
    /// <summary>
    /// Standard input for the program: a string (sent as UTF-8), string[] (one line each) or
    /// byte[]. Objects piped in are collected and sent together, one line each
    /// ('a', 'b' | Invoke-VMGuestCommand -VMName web01 cat), as Invoke-Command's -InputObject.
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public object? InputObject { get; set; }

    /// <summary>The most standard input one program gets: its base64 must fit the stock agent's 64 MiB message.</summary>
    internal const int MaxInputBytes = 32 * 1024 * 1024;

    private List<object?>? _pipedInput;
    private bool _inputOnCommandLine;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _inputOnCommandLine = MyInvocation.BoundParameters.ContainsKey(nameof(InputObject));
    }

    /// <summary>
    /// Input records that bound -InputObject are collected, not run one program each: the program
    /// runs once, at the end of the pipeline, with all of them as its standard input.
    /// </summary>
    protected override void ProcessRecord()
    {
        if (!_inputOnCommandLine && MyInvocation.BoundParameters.ContainsKey(nameof(InputObject)))
        {
            (_pipedInput ??= new List<object?>()).Add(InputObject is PSObject ps ? ps.BaseObject : InputObject);
            return;
        }
        base.ProcessRecord();
    }

    protected override void EndProcessing()
    {
        if (_pipedInput is not null)
        {
            InputObject = AllBytes(_pipedInput) ?? (object)_pipedInput.ToArray();
            // -AsJob copies the bound parameters of each record into the job.
            MyInvocation.BoundParameters[nameof(InputObject)] = InputObject;
            _pipedInput = null;
            base.ProcessRecord();
        }
        base.EndProcessing();
    }

    /// <summary>Bytes piped one by one (Get-Content -AsByteStream) are one byte[], not one line per byte.</summary>
    private static byte[]? AllBytes(List<object?> items)
    {
        var bytes = new byte[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i] is not byte b)
            {
                return null;
            }
            bytes[i] = b;
        }
        return bytes;
    }

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
        byte[]? input = InputBytes(InputObject);
        if (input is { Length: > MaxInputBytes })
        {
            ThrowTerminatingError(ErrorTable.Create(ErrorTable.InputTooLarge, ErrorCategory.LimitsExceeded,
                $"The standard input is {input.Length} bytes; at most {MaxInputBytes} bytes go to a guest program in one request.", input.Length));
        }
        return new GuestProcessStartInfo(path, args)
        {
            Environment = environment,
            WorkingDirectory = WorkingDirectory,
            StandardInput = input,
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
