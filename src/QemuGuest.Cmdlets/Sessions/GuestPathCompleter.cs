using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Threading;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// Completes a path parameter of Copy-VMGuestFile on the side it names: the guest's for -Source
/// with -GuestToLocal and -Destination with -LocalToGuest (asking the first target's agent for
/// the folder being typed, within <see cref="Bound"/>), the local file system otherwise.
/// </summary>
public sealed class GuestPathCompleter : IArgumentCompleter
{
    /// <summary>Tab must not hang on a slow or absent agent: connect, list and give up within this.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(3);

    private const int MaxResults = 500;

    private static readonly char[] Separators = { '/', '\\' };

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = (wordToComplete ?? string.Empty).Trim('\'', '"');
        bool guestSide = string.Equals(parameterName, "Destination", StringComparison.OrdinalIgnoreCase)
            ? IsSet(fakeBoundParameters, "LocalToGuest")
            : IsSet(fakeBoundParameters, "GuestToLocal");
        if (!guestSide)
        {
            return CompletionCompleters.CompleteFilename(wordToComplete ?? string.Empty);
        }
        try
        {
            return CompleteGuest(word, fakeBoundParameters);
        }
        catch (Exception ex) when (ex is QgaException or TransferException or OperationCanceledException or FormatException or InvalidOperationException or System.IO.IOException)
        {
            // Completion offers what it can: an unreachable or slow guest offers nothing.
            return Array.Empty<CompletionResult>();
        }
    }

    private static IEnumerable<CompletionResult> CompleteGuest(string word, IDictionary bound)
    {
        if (word.Length == 0 || !GuestTransferEngine.IsAbsolute(word))
        {
            // Guest paths are absolute: start the user there.
            word = word.Length == 0 ? "/" : word;
            if (!GuestTransferEngine.IsAbsolute(word))
            {
                return Array.Empty<CompletionResult>();
            }
        }
        int cut = Math.Max(word.LastIndexOf('/'), word.LastIndexOf('\\'));
        string folder = word.Substring(0, cut + 1);
        string prefix = word.Substring(cut + 1);

        using var cts = new CancellationTokenSource(Bound);
        GuestSession? temporary = null;
        GuestSession? session = SessionFrom(bound, ref temporary, cts.Token);
        if (session is null)
        {
            return Array.Empty<CompletionResult>();
        }
        try
        {
            var options = new QgaCallOptions { Timeout = Bound };
            var engine = GuestTransferEngine.OpenAsync(session.Channel, session.Facts, options, session.TargetName, cts.Token).GetAwaiter().GetResult();
            var comparison = engine.Profile.IsWindows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            var results = new List<CompletionResult>();
            GuestChildItems.ListAsync(engine, folder + "*", n => n.StartsWith(prefix, comparison), null, recurse: false, item =>
            {
                if (item.FullName is null || results.Count >= MaxResults || GuestChildItems.ComponentProblem(item.Entry.Name, engine.Profile.IsWindows) is not null
                    || GuestText.Printable(item.Entry.Name, multiline: false) != item.Entry.Name || item.Entry.Name.IndexOfAny(Separators) >= 0)
                {
                    // Only names that can be typed back as shown: a name with control characters is
                    // not offered. Nor one with a backslash, even from a POSIX guest where it is one
                    // component: the cmdlets take either separator in a guest path, so lnk\..\..\x
                    // would lead out of the folder.
                    return;
                }
                string text = folder + item.Entry.Name + (item.Entry.Kind == GuestEntryKind.Directory ? folder[folder.Length - 1].ToString() : string.Empty);
                results.Add(new CompletionResult(Quote(text), item.Entry.Name, CompletionResultType.ParameterValue, text));
            }, cts.Token).GetAwaiter().GetResult();
            return results;
        }
        finally
        {
            temporary?.Dispose();
        }
    }

    /// <summary>The first session of -Session, else an open session or the relay endpoint of the first -VMName.</summary>
    private static GuestSession? SessionFrom(IDictionary bound, ref GuestSession? temporary, CancellationToken cancellationToken)
    {
        if (First(bound, "Session") is GuestSession s && !s.IsDisposed)
        {
            return s;
        }
        string? vm = First(bound, "VMName") switch
        {
            string text => text,
            VMNameArgument v => v.Name,
            _ => null,
        };
        if (vm is null || WildcardPattern.ContainsWildcardCharacters(vm))
        {
            return null;
        }
        var open = SessionRegistry.FindByName(vm);
        if (open is not null)
        {
            return open;
        }
        temporary = SessionFactory.Open(SessionFactory.RelayEndpointFor(vm), vm, vm, temporary: true, Bound, cancellationToken);
        return temporary;
    }

    private static object? First(IDictionary bound, string name)
    {
        object? value = bound.Contains(name) ? bound[name] : null;
        value = value is PSObject ps ? ps.BaseObject : value;
        if (value is IList list)
        {
            value = list.Count > 0 ? list[0] : null;
            value = value is PSObject ps2 ? ps2.BaseObject : value;
        }
        return value;
    }

    private static bool IsSet(IDictionary bound, string name)
    {
        if (!bound.Contains(name))
        {
            return false;
        }
        object? v = bound[name] is PSObject ps ? ps.BaseObject : bound[name];
        return v switch
        {
            SwitchParameter sw => sw.IsPresent,
            bool b => b,
            _ => v is not null,
        };
    }

    /// <summary>
    /// The path as PowerShell reads it back: bare when it holds only characters that mean nothing
    /// to the parser, else single-quoted with every quote doubled, including the typographic
    /// quotes (‘ ’ ‚ ‛) PowerShell also takes for single quotes: a guest name such as it‘s or
    /// $(...) must end up as that text, never end the string early or run.
    /// </summary>
    internal static string Quote(string text)
    {
        foreach (char c in text)
        {
            bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "/\\:._-+=~".IndexOf(c) >= 0;
            if (!plain)
            {
                return "'" + CodeGeneration.EscapeSingleQuotedStringContent(text) + "'";
            }
        }
        return text;
    }
}
