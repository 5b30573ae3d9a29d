using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// What the generated cmdlets (backend "cmdlets", Qga.Cmdlets.g.cs) share: converting PowerShell
/// values to argument types, wrapping scalar results, describing an operation for -WhatIf.
/// Conversion failures are ArgumentExceptions, which ErrorTable maps to InvalidArgument.
/// </summary>
public static class GeneratedCmdletSupport
{
    /// <summary>A scalar result as an object with one property, so it pipes by property name.</summary>
    public static PSObject Scalar(string typeName, string property, object? value)
    {
        var ps = new PSObject();
        ps.Properties.Add(new PSNoteProperty(property, value));
        ps.TypeNames.Insert(0, typeName);
        return ps;
    }

    /// <summary>
    /// The base64 of a secret's UTF-8 text (a password's wire form). The clear text exists only in
    /// buffers zeroed here before returning; the base64 string the client needs cannot be.
    /// </summary>
    public static string SecureBase64(SecureString secret)
    {
        IntPtr unmanaged = IntPtr.Zero;
        char[]? chars = null;
        byte[]? bytes = null;
        try
        {
            unmanaged = Marshal.SecureStringToGlobalAllocUnicode(secret);
            chars = new char[secret.Length];
            Marshal.Copy(unmanaged, chars, 0, chars.Length);
            bytes = Encoding.UTF8.GetBytes(chars);
            return Convert.ToBase64String(bytes);
        }
        finally
        {
            if (unmanaged != IntPtr.Zero)
            {
                Marshal.ZeroFreeGlobalAllocUnicode(unmanaged);
            }
            if (chars is not null)
            {
                Array.Clear(chars, 0, chars.Length);
            }
            if (bytes is not null)
            {
                Array.Clear(bytes, 0, bytes.Length);
            }
        }
    }

    /// <summary>
    /// A Test- cmdlet's answer for one target: $true/$false, or with -Detailed an object
    /// (PSTypeName <paramref name="typeName"/>) with VMName, Succeeded, ResponseTime, Reply (the
    /// agent's reply, if any) and Error (the ErrorRecord of a failure). A failure is also told
    /// on the verbose stream, since the plain answer is only $false.
    /// </summary>
    public static object TestAnswer(string typeName, string vmName, bool detailed, TimeSpan responseTime, object? reply, ErrorRecord? error)
    {
        if (!detailed)
        {
            return error is null;
        }
        var ps = new PSObject();
        ps.Properties.Add(new PSNoteProperty("VMName", vmName));
        ps.Properties.Add(new PSNoteProperty("Succeeded", error is null));
        ps.Properties.Add(new PSNoteProperty("ResponseTime", responseTime));
        ps.Properties.Add(new PSNoteProperty("Reply", reply));
        ps.Properties.Add(new PSNoteProperty("Error", error));
        ps.TypeNames.Insert(0, typeName);
        return ps;
    }

    /// <summary>The verbose line for a failed test: which target and why (the agent's text made printable).</summary>
    public static string TestFailure(string vmName, ErrorRecord error) =>
        QemuGuest.Protocol.GuestText.Printable(vmName + ": " + error.FullyQualifiedErrorId.Split(',')[0] + ": " + error.Exception.Message, multiline: false);

    /// <summary><paramref name="path"/> when it is not an absolute guest path (overlay 'guest-path'), else null.</summary>
    public static string? RelativeGuestPath(string? path) =>
        path is not null && !QemuGuest.Protocol.Transfer.GuestTransferEngine.IsAbsolute(path) ? path : null;

    /// <summary>The first of <paramref name="paths"/> that is not an absolute guest path, or null when all are (or none is given).</summary>
    public static string? RelativeGuestPath(IReadOnlyList<string>? paths)
    {
        foreach (string p in paths ?? Array.Empty<string>())
        {
            if (RelativeGuestPath(p) is { } relative)
            {
                return relative;
            }
        }
        return null;
    }

    private static readonly long UnixEpochTicks = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    /// <summary>A time parameter as nanoseconds since 1970-01-01 UTC (the wire's range: years 1678 to 2262).</summary>
    public static long ToUnixNanoseconds(DateTimeOffset time, string parameter)
    {
        try
        {
            return checked((time.UtcTicks - UnixEpochTicks) * 100);
        }
        catch (OverflowException)
        {
            throw new ArgumentException("Cannot use '" + time.ToString("o", CultureInfo.InvariantCulture) + "' for -" + parameter + ": the guest takes times from 1678 to 2262 (nanoseconds since 1970 in 64 bits).", parameter);
        }
    }

    /// <summary>A time parameter as seconds since 1970-01-01 UTC.</summary>
    public static double ToUnixSeconds(DateTimeOffset time, string parameter) => (time.UtcTicks - UnixEpochTicks) / (double)TimeSpan.TicksPerSecond;

    /// <summary>A guest time (nanoseconds since 1970 UTC) as a local DateTime; null when the guest's value is not a representable time.</summary>
    public static DateTime? FromUnixNanoseconds(long nanoseconds) => FromTicks(nanoseconds / 100);

    /// <summary>A guest time (seconds since 1970 UTC) as a local DateTime; null when the guest's value is not a representable time.</summary>
    public static DateTime? FromUnixSeconds(double seconds) =>
        double.IsNaN(seconds) || Math.Abs(seconds) > 3e11 ? null : FromTicks((long)(seconds * TimeSpan.TicksPerSecond));

    private static DateTime? FromTicks(long ticksSinceEpoch)
    {
        if (ticksSinceEpoch > DateTime.MaxValue.Ticks - UnixEpochTicks - TimeSpan.TicksPerDay || ticksSinceEpoch < -UnixEpochTicks + TimeSpan.TicksPerDay)
        {
            return null;
        }
        return new DateTime(UnixEpochTicks + ticksSinceEpoch, DateTimeKind.Utc).ToLocalTime();
    }

    /// <summary>
    /// The output object with its wire time <paramref name="property"/> (nanoseconds, or seconds)
    /// shown as a local DateTime: a note property of the same name shadows the number.
    /// </summary>
    public static PSObject WithTime(object item, string property, bool seconds)
    {
        var ps = PSObject.AsPSObject(item);
        object? raw = Unwrap(ps.Properties[property]?.Value);
        DateTime? time = null;
        if (raw is IConvertible number and not string and not bool)
        {
            try
            {
                time = seconds ? FromUnixSeconds(number.ToDouble(CultureInfo.InvariantCulture)) : FromUnixNanoseconds(number.ToInt64(CultureInfo.InvariantCulture));
            }
            catch (OverflowException)
            {
                // A guest value beyond 64 bits is no representable time: null, like one out of range.
            }
        }
        ps.Properties.Add(new PSNoteProperty(property, time));
        return ps;
    }

    /// <summary>"Verb-Noun (wire-name) Name=value ..." for ShouldProcess; null values are left out.</summary>
    public static string Describe(string head, params object?[] nameValuePairs)
    {
        var sb = new StringBuilder(head);
        for (int i = 0; i + 1 < nameValuePairs.Length; i += 2)
        {
            object? v = Unwrap(nameValuePairs[i + 1]);
            if (v is null)
            {
                continue;
            }
            string text = v is IEnumerable e and not string ? "[" + Count(e).ToString(CultureInfo.InvariantCulture) + " items]" : Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty;
            if (text.Length > 60)
            {
                text = text.Substring(0, 57) + "...";
            }
            sb.Append(' ').Append(nameValuePairs[i]).Append('=').Append(text);
        }
        return sb.ToString();
    }

    private static int Count(IEnumerable e)
    {
        int n = 0;
        foreach (var _ in e)
        {
            n++;
        }
        return n;
    }

    public static object? Unwrap(object? value) => value is PSObject ps && ps.BaseObject is not PSCustomObject ? ps.BaseObject : value;

    /// <summary>The wire name matching <paramref name="value"/> (case-insensitive), or an ArgumentException.</summary>
    public static string EnumName(object? value, string[] names, string parameter)
    {
        if (TryEnumName(value, names, out var name))
        {
            return name;
        }
        throw BadValue(parameter, value, "one of " + string.Join(", ", names));
    }

    public static bool TryEnumName(object? value, string[] names, out string name)
    {
        name = string.Empty;
        if (Unwrap(value) is not string s)
        {
            return false;
        }
        foreach (var n in names)
        {
            if (string.Equals(n, s, StringComparison.OrdinalIgnoreCase))
            {
                name = n;
                return true;
            }
        }
        return false;
    }

    public static bool TryBool(object? value, out bool result)
    {
        switch (Unwrap(value))
        {
            case bool b:
                result = b;
                return true;
            case SwitchParameter sw:
                result = sw.IsPresent;
                return true;
            case string s when bool.TryParse(s.Trim(), out var parsed):
                result = parsed;
                return true;
        }
        result = false;
        return false;
    }

    public static bool TryNumber<T>(object? value, out T result)
        where T : struct
    {
        object? v = Unwrap(value);
        result = default;
        if (v is null || v is bool)
        {
            return false;
        }
        if (v is string s)
        {
            s = s.Trim();
            if (s.Length == 0 || !(char.IsDigit(s[0]) || s[0] == '-' || s[0] == '+'))
            {
                return false;
            }
        }
        try
        {
            result = LanguagePrimitives.ConvertTo<T>(v);
            return true;
        }
        catch (PSInvalidCastException)
        {
            return false;
        }
    }

    public static ArgumentException BadValue(string parameter, object? value, string expected) =>
        new("Cannot use '" + (Unwrap(value) ?? "null") + "' for -" + parameter + ": expected " + expected + ".", parameter);

    /// <summary>Each element converted; a conversion failure names the parameter.</summary>
    public static T[] Map<T>(IEnumerable? values, Func<object?, string, T> convert, string parameter)
    {
        var list = new List<T>();
        if (values is not null)
        {
            foreach (var v in values)
            {
                list.Add(convert(v, parameter));
            }
        }
        return list.ToArray();
    }

    public static IEnumerable AsArray(object? value) => Unwrap(value) switch
    {
        null => Array.Empty<object>(),
        string s => new object[] { s },
        IDictionary d => new object[] { d },
        IEnumerable e => e,
        var one => new[] { one },
    };

    /// <summary>The properties of a hashtable, PSCustomObject or any object, looked up by any of several names.</summary>
    public static PropertyBag Bag(object? value, string parameter) => new(value, parameter);

    public sealed class PropertyBag
    {
        private readonly object? _value;

        internal PropertyBag(object? value, string parameter)
        {
            _value = value is PSObject ps && ps.BaseObject is IDictionary ? ps.BaseObject : value;
            Parameter = parameter;
            if (_value is null)
            {
                throw new ArgumentException("-" + parameter + " contains a null element.", parameter);
            }
        }

        public string Parameter { get; }

        public object? OptionalObject(params string[] names)
        {
            if (_value is IDictionary d)
            {
                foreach (DictionaryEntry e in d)
                {
                    foreach (var n in names)
                    {
                        if (string.Equals(e.Key?.ToString(), n, StringComparison.OrdinalIgnoreCase))
                        {
                            return e.Value;
                        }
                    }
                }
                return null;
            }
            var ps = PSObject.AsPSObject(_value);
            foreach (var n in names)
            {
                var p = ps.Properties[n];
                if (p is not null)
                {
                    return p.Value;
                }
            }
            return null;
        }

        public object RequiredObject(params string[] names) =>
            OptionalObject(names) ?? throw new ArgumentException("An element of -" + Parameter + " has no " + names[0] + ".", Parameter);

        public T Required<T>(params string[] names) => Convert<T>(RequiredObject(names), names[0]);

        public T? OptionalValue<T>(params string[] names)
            where T : struct => OptionalObject(names) is { } v ? Convert<T>(v, names[0]) : null;

        public T? OptionalReference<T>(params string[] names)
            where T : class => OptionalObject(names) is { } v ? Convert<T>(v, names[0]) : null;

        public T? Optional<T>(params string[] names)
            where T : class => OptionalReference<T>(names);

        private T Convert<T>(object value, string name)
        {
            try
            {
                return LanguagePrimitives.ConvertTo<T>(value);
            }
            catch (PSInvalidCastException ex)
            {
                throw new ArgumentException("The " + name + " of an element of -" + Parameter + " is not a " + typeof(T).Name + ": " + ex.Message, Parameter, ex);
            }
        }
    }
}
