using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// Turns PowerShell values (PSObject-wrapped, hashtables of PSObjects, pscustomobjects) into
/// plain .NET values before they cross into the protocol library, which knows nothing of PowerShell.
/// </summary>
internal static class PlainValues
{
    public static object? From(object? value, int depth = 0)
    {
        if (depth > 1024)
        {
            throw new System.ArgumentException("Value is nested more than 1024 levels deep.");
        }
        if (value is PSObject ps)
        {
            if (ps.BaseObject is PSCustomObject)
            {
                var dict = new Dictionary<string, object?>();
                foreach (var p in ps.Properties)
                {
                    dict[p.Name] = From(p.Value, depth + 1);
                }
                return dict;
            }
            value = ps.BaseObject;
        }
        switch (value)
        {
            case null:
            case string:
                return value;
            case IDictionary d:
                var copy = new Dictionary<string, object?>();
                foreach (DictionaryEntry e in d)
                {
                    copy[e.Key?.ToString() ?? string.Empty] = From(e.Value, depth + 1);
                }
                return copy;
            case byte[]:
                return value;
            case IEnumerable seq:
                var list = new List<object?>();
                foreach (var item in seq)
                {
                    list.Add(From(item, depth + 1));
                }
                return list;
            default:
                return value;
        }
    }

    /// <summary>Dictionaries from JSON (ordered) as PSCustomObjects, so they format and pipe naturally.</summary>
    public static object? ToPowerShell(object? value)
    {
        switch (value)
        {
            case IDictionary<string, object?> dict:
                var obj = new PSObject();
                foreach (var kv in dict)
                {
                    obj.Properties.Add(new PSNoteProperty(kv.Key, ToPowerShell(kv.Value)));
                }
                return obj;
            case object?[] array:
                var result = new object?[array.Length];
                for (int i = 0; i < array.Length; i++)
                {
                    result[i] = ToPowerShell(array[i]);
                }
                return result;
            default:
                return value;
        }
    }
}
