using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>Completes -VMName from open sessions and the relay's per-VM endpoints.</summary>
public sealed class VMNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        var candidates = new List<string>();
        foreach (var s in SessionRegistry.Snapshot())
        {
            if (!s.IsDisposed)
            {
                candidates.Add(s.TargetName);
            }
        }
        candidates.AddRange(SessionFactory.ListRelayVMs());
        foreach (var name in candidates)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && seen.Add(name))
            {
                yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, name);
            }
        }
    }
}
