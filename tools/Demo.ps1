<#
.SYNOPSIS
    The README's demo: a guest agent on a temporary socket, driven through the module.
.DESCRIPTION
    Starts our agent (or Debian's qemu-ga when ours is not built) in unix-listen mode, standing
    in for a VM's virtio-serial chardev, imports the module from out/QemuGuest and runs real
    guest commands, printing what it does. The agent is always stopped, by its own pid.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [switch] $VM
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot 'LocalAgent.psm1') -Force

if ($VM) {
    throw 'Demo -VM needs the end-to-end VM image (tests/e2e, issue 9), which is not built yet.'
}

function Show([string] $What, [scriptblock] $Body) {
    Write-Host ''
    Write-Host "PS> $What" -ForegroundColor Yellow
    $out = & $Body
    if ($null -ne $out) { $out | Out-Host }
}

$kind = if (Get-OurAgentPath) { 'Ours' } else { 'Stock' }
$agent = Start-LocalAgent -Kind $kind
try {
    Write-Host "Started $(if ($kind -eq 'Ours') { 'the QemuGuest agent' } else { "Debian's qemu-ga" }) (pid $($agent.Pid)) on $($agent.Socket)"
    Import-Module $ModulePath
    Write-Host "Imported QemuGuest $((Get-Module QemuGuest).Version) from $ModulePath"

    $session = $null
    Show "`$s = New-VMGuestSession -ConnectionString '$($agent.ConnectionString)' -Name demo" {
        $script:session = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name demo
        $script:session
    }
    $s = $script:session
    Show 'Test-VMGuestAgent -Session $s; Get-VMGuestAgent -Session $s | Select-Object Version, @{n=''Commands'';e={$_.SupportedCommands.Count}}' {
        Test-VMGuestAgent -Session $s
        Get-VMGuestAgent -Session $s | Select-Object Version, @{ n = 'Commands'; e = { $_.SupportedCommands.Count } }
    }
    Show 'Get-VMGuestOSInfo -Session $s' {
        Get-VMGuestOSInfo -Session $s
    }
    Show 'Get-VMGuestHostName -Session $s' {
        Get-VMGuestHostName -Session $s
    }
    Show 'Get-VMGuestTimeZone -Session $s | Format-List' {
        Get-VMGuestTimeZone -Session $s | Format-List
    }
    Show 'Invoke-VMGuestRpc -Session $s guest-get-time   # any command by its wire name' {
        Invoke-VMGuestRpc -Session $s guest-get-time
    }
    # The headline: a folder into the guest and back, and a command run in the guest. The
    # "guest" is this machine, so both sides are temporary folders here.
    $work = Join-Path ([IO.Path]::GetTempPath()) ('qg-demo-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path "$work/project/src", "$work/guest"
    Set-Content "$work/project/README.txt" 'Copied into the guest by Copy-VMGuestFile.'
    Set-Content "$work/project/src/hello.sh" 'echo "Hello from $(hostname), running $(uname -sr)"'
    try {
        Show "Copy-VMGuestFile -Session `$s -LocalToGuest -Source $work/project -Destination $work/guest/project -Recurse -Verify -PassThru" {
            Copy-VMGuestFile -Session $s -LocalToGuest -Source "$work/project" -Destination "$work/guest/project" -Recurse -Verify -PassThru |
                Format-Table @{ n = 'Destination'; e = { $_.Destination.Substring($work.Length) } }, Bytes, Verified, Atomic -AutoSize
        }
        Show "Invoke-VMGuestCommand -Session `$s sh -ArgumentList $work/guest/project/src/hello.sh" {
            Invoke-VMGuestCommand -Session $s sh -ArgumentList "$work/guest/project/src/hello.sh" | Format-List ExitCode, StdOut
        }
        Show "Invoke-VMGuestScript -Session `$s -ScriptType Bash -ScriptText 'ls -R $work/guest/project > $work/guest/project/listing.txt; exit 3'" {
            Invoke-VMGuestScript -Session $s -ScriptType Bash -ScriptText "ls -R $work/guest/project > $work/guest/project/listing.txt; exit 3" | Format-List ExitCode
        }
        Show "Copy-VMGuestFile -Session `$s -GuestToLocal -Source $work/guest/project -Destination $work/back -Recurse -PassThru" {
            Copy-VMGuestFile -Session $s -GuestToLocal -Source "$work/guest/project" -Destination "$work/back" -Recurse -PassThru |
                Format-Table @{ n = 'Source'; e = { $_.Source.Substring($work.Length) } }, @{ n = 'Destination'; e = { $_.Destination.Substring($work.Length) } }, Bytes -AutoSize
        }
        Show "Get-Content $work/back/listing.txt" { Get-Content "$work/back/listing.txt" }
    }
    finally {
        Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
    }
    Show 'Get-VMGuestSession | Remove-VMGuestSession' {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }
    Write-Host ''
    Write-Host 'Demo finished.' -ForegroundColor Green
}
finally {
    $agent | Stop-LocalAgent
}
