#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Writes the module's MAML help (en-US/QemuGuest.Cmdlets.dll-Help.xml) from the built assembly.

.DESCRIPTION
    Run by the QemuGuest.Cmdlets build (target WriteModuleHelp) after every compile. The syntax
    of every cmdlet (parameter sets, names, types, positions, aliases, pipeline input, mandatory)
    is read from the cmdlet classes' real [Cmdlet]/[Parameter]/[Alias]/[OutputType] attributes by
    reflection, so help can never disagree with the signatures. The text comes from:
      - generated cmdlets: the generator's help backend, the constant QemuGuest.Cmdlets.QgaHelp.Text
        (synopsis, description, parameters, output, examples, links, all from the schema docs and
        the PowerShell overlay);
      - hand-written cmdlets: their XML doc comments (QemuGuest.Cmdlets.xml): the class summary's
        <para type="synopsis">, <para type="description">, <para type="link">, <example> elements
        (<code> + <para>), and each parameter property's <summary>;
      - inherited parameters (GuestCmdlet's -Session, -VMName, -ThrottleLimit, -TimeoutSec): their
        XML doc comments.
    A cmdlet without a synopsis, a description, an example, or with an undocumented parameter is
    reported (a warning; an error with -Strict); tests/pester/Help.Tests.ps1 fails on it.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $AssemblyPath,
    [Parameter(Mandatory)] [string] $OutputPath,
    [switch] $Strict
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$AssemblyPath = (Resolve-Path $AssemblyPath).Path
$asm = [System.Reflection.Assembly]::LoadFrom($AssemblyPath)
$xmlDocPath = [IO.Path]::ChangeExtension($AssemblyPath, '.xml')
if (-not (Test-Path $xmlDocPath)) { throw "XML documentation file not found: $xmlDocPath" }
[xml] $xmlDoc = Get-Content -Raw $xmlDocPath
$docMembers = @{}
foreach ($m in $xmlDoc.doc.members.member) { $docMembers[$m.name] = $m }

# Generated help text (backend "help").
$generated = @{}
$helpType = $asm.GetType('QemuGuest.Cmdlets.QgaHelp')
if ($helpType) {
    $text = $helpType.GetField('Text', [Reflection.BindingFlags] 'Static, NonPublic, Public').GetRawConstantValue()
    [xml] $gen = $text
    foreach ($c in $gen.qemuguestHelp.command) { $generated[$c.name] = $c }
}

$problems = [System.Collections.Generic.List[string]]::new()

function Get-DocText([System.Xml.XmlNode] $node) {
    if (-not $node) { return '' }
    # <see cref="T:X"/> / <c>x</c> → plain text.
    $clone = $node.CloneNode($true)
    foreach ($see in @($clone.SelectNodes('.//see'))) {
        $name = if ($see.GetAttribute('cref')) { ($see.GetAttribute('cref') -replace '^.:', '') -replace '^.*\.', '' } else { $see.InnerText }
        $see.ParentNode.ReplaceChild($clone.OwnerDocument.CreateTextNode($name), $see) | Out-Null
    }
    return (($clone.InnerText -replace '\s+', ' ').Trim())
}

function Get-PropertyDoc([Reflection.PropertyInfo] $p) {
    $t = $p.DeclaringType
    $key = "P:$($t.FullName).$($p.Name)"
    $m = $docMembers[$key]
    if ($m -and $m['summary']) { return Get-DocText $m['summary'] }
    return ''
}

function Get-TypeName([type] $t) {
    $u = [Nullable]::GetUnderlyingType($t)
    if ($u) { $t = $u }
    return $t.FullName
}

function Get-ShortTypeName([type] $t) {
    $u = [Nullable]::GetUnderlyingType($t)
    if ($u) { $t = $u }
    if ($t -eq [System.Management.Automation.SwitchParameter]) { return 'SwitchParameter' }
    return $t.Name
}

# ---- collect cmdlets ----
$cmdlets = foreach ($t in $asm.GetExportedTypes() | Sort-Object FullName) {
    $ca = $t.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $true) | Select-Object -First 1
    if (-not $ca) { continue }
    $name = '{0}-{1}' -f $ca.VerbName, $ca.NounName
    $params = [System.Collections.Generic.List[object]]::new()
    $props = @($t.GetProperties([Reflection.BindingFlags] 'Public, Instance'))
    foreach ($p in $props) {
        # A property re-declared with 'new' (generated -Credential cmdlets re-declare -Session and
        # -VMName in more sets) hides the base one, as PowerShell's binder does: keep the most derived.
        if (@($props | Where-Object { $_.Name -eq $p.Name -and $_.DeclaringType -ne $p.DeclaringType -and $_.DeclaringType.IsSubclassOf($p.DeclaringType) }).Count) { continue }
        $pas = @($p.GetCustomAttributes([System.Management.Automation.ParameterAttribute], $true))
        if ($pas.Count -eq 0) { continue }
        $aliases = @($p.GetCustomAttributes([System.Management.Automation.AliasAttribute], $true) | ForEach-Object { $_.AliasNames })
        $validate = @($p.GetCustomAttributes([System.Management.Automation.ValidateSetAttribute], $true) | ForEach-Object { $_.ValidValues })
        $params.Add([pscustomobject]@{ Name = $p.Name; Property = $p; Attributes = $pas; Aliases = $aliases; ValidValues = $validate })
    }
    if ($ca.SupportsShouldProcess) {
        foreach ($risk in 'WhatIf', 'Confirm') {
            $params.Add([pscustomobject]@{ Name = $risk; Property = $null; Attributes = @(); Aliases = @($(if ($risk -eq 'WhatIf') { 'wi' } else { 'cf' })); ValidValues = @() })
        }
    }
    [pscustomobject]@{ Name = $name; Type = $t; Attribute = $ca; Parameters = $params; Generated = $generated[$name] }
}

# ---- text per cmdlet ----
function Get-CmdletText($c) {
    $g = $c.Generated
    $r = [ordered]@{ Synopsis = ''; Description = @(); Parameters = @{}; Output = ''; Examples = @(); Links = @() }
    if ($g) {
        $r.Synopsis = $g.synopsis
        $r.Description = @($g.description.para | ForEach-Object { [string] $_ })
        foreach ($p in @($g.SelectNodes('parameter'))) { $r.Parameters[$p.GetAttribute('name')] = $p.InnerText }
        $r.Output = $g.output
        $r.Examples = @($g.SelectNodes('example') | ForEach-Object { [pscustomobject]@{ Title = $_.title; Code = $_.code; Remarks = $_.remarks } })
        $r.Links = @($g.SelectNodes('link') | ForEach-Object { $_.InnerText })
    }
    else {
        $m = $docMembers["T:$($c.Type.FullName)"]
        if ($m) {
            $summary = $m['summary']
            if ($summary) {
                $syn = $summary.SelectSingleNode("para[@type='synopsis']")
                $r.Synopsis = if ($syn) { Get-DocText $syn } else { Get-DocText $summary }
                $r.Description = @($summary.SelectNodes("para[@type='description']") | ForEach-Object { Get-DocText $_ })
                $r.Links = @($summary.SelectNodes("para[@type='link']") | ForEach-Object { Get-DocText $_ })
            }
            $n = 1
            $r.Examples = @(foreach ($e in @($m.SelectNodes('example'))) {
                    $title = $e.GetAttribute('title')
                    [pscustomobject]@{
                        Title   = "Example ${n}: $title"
                        Code    = (($e.SelectSingleNode('code').InnerText -split "`n" | ForEach-Object { $_.Trim() } | Where-Object { $_ }) -join "`n")
                        Remarks = (@($e.SelectNodes('para') | ForEach-Object { Get-DocText $_ }) -join ' ')
                    }
                    $n++
                })
            $out = $m['returns']
            if ($out) { $r.Output = Get-DocText $out }
        }
    }
    foreach ($p in $c.Parameters) {
        if ($p.Name -eq 'WhatIf') { $r.Parameters['WhatIf'] = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'; continue }
        if ($p.Name -eq 'Confirm') { $r.Parameters['Confirm'] = 'Prompts you for confirmation before running the cmdlet.'; continue }
        if (-not $r.Parameters.ContainsKey($p.Name) -or -not $r.Parameters[$p.Name]) {
            $r.Parameters[$p.Name] = Get-PropertyDoc $p.Property
        }
    }
    return [pscustomobject] $r
}

# ---- MAML ----
$ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}
$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$settings.NewLineChars = "`n"
$dir = Split-Path -Parent $OutputPath
if ($dir) { $null = New-Item -ItemType Directory -Force -Path $dir }
$tmp = "$OutputPath.tmp"
$w = [System.Xml.XmlWriter]::Create($tmp, $settings)

function Write-Paras([string] $prefix, [string[]] $paras) {
    $w.WriteStartElement('maml', 'description', $ns.maml)
    foreach ($para in $paras) { $w.WriteElementString('maml', 'para', $ns.maml, $para) }
    $w.WriteEndElement()
}

function Get-ParameterSets($c) {
    $sets = [System.Collections.Generic.List[string]]::new()
    foreach ($p in $c.Parameters) {
        foreach ($a in $p.Attributes) {
            if ($a.ParameterSetName -ne '__AllParameterSets' -and -not $sets.Contains($a.ParameterSetName)) { $sets.Add($a.ParameterSetName) }
        }
    }
    if ($sets.Count -eq 0) { $sets.Add('__AllParameterSets') }
    $default = $c.Attribute.DefaultParameterSetName
    if ($default -and $sets.Contains($default)) { $sets.Remove($default) | Out-Null; $sets.Insert(0, $default) }
    return $sets
}

function Write-Parameter($c, $p, $text, $a) {
    # $a: the ParameterAttribute that applies (null for WhatIf/Confirm).
    $type = if ($p.Property) { $p.Property.PropertyType } else { [System.Management.Automation.SwitchParameter] }
    $required = if ($a) { $a.Mandatory } else { $false }
    $position = if ($a -and $a.Position -ge 0) { [string] $a.Position } else { 'named' }
    $pipeline = @()
    $anyPipe = @($p.Attributes | Where-Object { $_.ValueFromPipeline }).Count -gt 0
    $anyByName = @($p.Attributes | Where-Object { $_.ValueFromPipelineByPropertyName }).Count -gt 0
    if ($a) { $anyPipe = $a.ValueFromPipeline; $anyByName = $a.ValueFromPipelineByPropertyName }
    if ($anyPipe) { $pipeline += 'ByValue' }
    if ($anyByName) { $pipeline += 'ByPropertyName' }
    $pipeText = if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }
    $w.WriteStartElement('command', 'parameter', $ns.command)
    $w.WriteAttributeString('required', ([string] $required).ToLowerInvariant())
    $w.WriteAttributeString('variableLength', ([string] $type.IsArray).ToLowerInvariant())
    $w.WriteAttributeString('globbing', 'false')
    $w.WriteAttributeString('pipelineInput', $pipeText)
    $w.WriteAttributeString('position', $position)
    $w.WriteAttributeString('aliases', $(if ($p.Aliases) { $p.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $ns.maml, $p.Name)
    $desc = $text
    if ($p.ValidValues -and $desc -notmatch 'Valid values') { $desc += " Valid values: $($p.ValidValues -join ', ')." }
    Write-Paras '' @($desc)
    if ($type -ne [System.Management.Automation.SwitchParameter]) {
        $w.WriteStartElement('command', 'parameterValue', $ns.command)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', ([string] $type.IsArray).ToLowerInvariant())
        $w.WriteString((Get-ShortTypeName $type))
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $ns.dev)
    $w.WriteElementString('maml', 'name', $ns.maml, (Get-TypeName $type))
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $ns.dev, 'None')
    $w.WriteEndElement()
}

$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh')
$w.WriteAttributeString('schema', 'maml')
foreach ($c in $cmdlets) {
    $text = Get-CmdletText $c
    if (-not $text.Synopsis) { $problems.Add("$($c.Name): no synopsis") }
    if (-not $text.Description) { $problems.Add("$($c.Name): no description") }
    if (-not $text.Examples) { $problems.Add("$($c.Name): no example") }
    foreach ($p in $c.Parameters) { if (-not $text.Parameters[$p.Name]) { $problems.Add("$($c.Name): parameter -$($p.Name) has no description") } }

    $w.WriteStartElement('command', 'command', $ns.command)
    $w.WriteAttributeString('xmlns', 'maml', $null, $ns.maml)
    $w.WriteAttributeString('xmlns', 'command', $null, $ns.command)
    $w.WriteAttributeString('xmlns', 'dev', $null, $ns.dev)
    $w.WriteStartElement('command', 'details', $ns.command)
    $w.WriteElementString('command', 'name', $ns.command, $c.Name)
    $w.WriteElementString('command', 'verb', $ns.command, $c.Attribute.VerbName)
    $w.WriteElementString('command', 'noun', $ns.command, $c.Attribute.NounName)
    Write-Paras '' @($text.Synopsis)
    $w.WriteEndElement()
    Write-Paras '' @($text.Description)

    $w.WriteStartElement('command', 'syntax', $ns.command)
    foreach ($set in Get-ParameterSets $c) {
        $w.WriteStartElement('command', 'syntaxItem', $ns.command)
        $w.WriteElementString('maml', 'name', $ns.maml, $c.Name)
        $inSet = foreach ($p in $c.Parameters) {
            if (-not $p.Property) { [pscustomobject]@{ P = $p; A = $null; Pos = [int]::MaxValue }; continue }
            $a = $p.Attributes | Where-Object { $_.ParameterSetName -eq $set } | Select-Object -First 1
            if (-not $a) { $a = $p.Attributes | Where-Object { $_.ParameterSetName -eq '__AllParameterSets' } | Select-Object -First 1 }
            if ($a) { [pscustomobject]@{ P = $p; A = $a; Pos = $(if ($a.Position -ge 0) { $a.Position } else { 1000 }) } }
        }
        foreach ($x in @($inSet | Sort-Object Pos)) { Write-Parameter $c $x.P $text.Parameters[$x.P.Name] $x.A }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $ns.command)
    foreach ($p in $c.Parameters) {
        $a = if ($p.Attributes) { $p.Attributes | Select-Object -First 1 } else { $null }
        Write-Parameter $c $p $text.Parameters[$p.Name] $a
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'inputTypes', $ns.command)
    $inputs = @($c.Parameters | Where-Object { $_.Property -and @($_.Attributes | Where-Object { $_.ValueFromPipeline -or $_.ValueFromPipelineByPropertyName }).Count -gt 0 })
    foreach ($p in $inputs) {
        $w.WriteStartElement('command', 'inputType', $ns.command)
        $w.WriteStartElement('dev', 'type', $ns.dev)
        $w.WriteElementString('maml', 'name', $ns.maml, (Get-TypeName $p.Property.PropertyType))
        $w.WriteEndElement()
        $how = if (@($p.Attributes | Where-Object { $_.ValueFromPipeline }).Count) { 'by value' } else { 'by property name' }
        Write-Paras '' @("-$($p.Name) from the pipeline ($how).")
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'returnValues', $ns.command)
    $outTypes = @($c.Type.GetCustomAttributes([System.Management.Automation.OutputTypeAttribute], $true) | ForEach-Object { $_.Type } | ForEach-Object { $_.Name })
    if (-not $outTypes) { $outTypes = @('None') }
    foreach ($o in $outTypes) {
        $w.WriteStartElement('command', 'returnValue', $ns.command)
        $w.WriteStartElement('dev', 'type', $ns.dev)
        $w.WriteElementString('maml', 'name', $ns.maml, $o)
        $w.WriteEndElement()
        Write-Paras '' @($(if ($text.Output) { $text.Output } else { $o }))
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $ns.command)
    foreach ($e in $text.Examples) {
        $w.WriteStartElement('command', 'example', $ns.command)
        $w.WriteElementString('maml', 'title', $ns.maml, "-------------------------- $($e.Title) --------------------------")
        $w.WriteElementString('dev', 'code', $ns.dev, $e.Code)
        $w.WriteStartElement('dev', 'remarks', $ns.dev)
        $w.WriteElementString('maml', 'para', $ns.maml, $e.Remarks)
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $ns.command)
    foreach ($l in $text.Links) {
        $w.WriteStartElement('maml', 'navigationLink', $ns.maml)
        $w.WriteElementString('maml', 'linkText', $ns.maml, $l)
        $w.WriteElementString('maml', 'uri', $ns.maml, '')
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Close()

Move-Item -Force $tmp $OutputPath
if ($problems.Count -gt 0) {
    # tests/pester/Help.Tests.ps1 fails on these; -Strict fails the build too.
    $message = "Help is incomplete:`n  $($problems -join "`n  ")"
    if ($Strict) { throw $message }
    Write-Warning $message
}
Write-Host "Help for $(@($cmdlets).Count) cmdlets written to $OutputPath"
