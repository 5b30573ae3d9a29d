# Guest paths (issue 17, "Paths"): a relative guest path is the error RelativeGuestPath naming
# it, before anything reaches the agent (it would mean the agent's working folder), in the task
# cmdlets and in every generated parameter the overlay marks 'guest-path'; and tab completion
# of Copy-VMGuestFile's guest-side path asks the guest, not the local file system.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    # The guest's /srv is a private, empty tmpfs: what is created there is not on this host.
    $script:Ours = Start-LocalAgent -Kind Ours -PrivateFolder /srv
    $script:Stock = Start-LocalAgent -Kind Stock -PrivateFolder /srv
    $script:S = New-VMGuestSession -ConnectionString $Ours.ConnectionString -Name 'paths-ours'
    $script:K = New-VMGuestSession -ConnectionString $Stock.ConnectionString -Name 'paths-stock'
    $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-paths-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $T
    Set-Content "$T/local.txt" 'local'
    # Where a relative path would land: the agents' working folder (inherited from this process), or /.
    $script:Landing = @([Environment]::CurrentDirectory, '/')

    function Assert-Relative($Errors, [string] $Path) {
        @($Errors).Count | Should -Be 1
        $Errors[0].FullyQualifiedErrorId | Should -BeLike 'RelativeGuestPath,*'
        $Errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $Errors[0].Exception.Message | Should -BeLike "*'$Path'*"
        $Errors[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
    }
}

AfterAll {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $script:Ours, $script:Stock | Stop-LocalAgent
    Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
}

Describe 'A relative guest path is RelativeGuestPath, and nothing reaches the agent' {
    It 'New-VMGuestDirectory (generated, guest-path): no folder appears in the agent''s working folder' {
        $name = 'qg-rel-' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        New-VMGuestDirectory -Session $S $name -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-Relative $err $name
        foreach ($d in $Landing) { Join-Path $d $name | Should -Not -Exist }
    }

    It '<Line>' -ForEach @(
        @{ Line = 'Remove-VMGuestItem -Session $S qg-nothing -Confirm:$false'; Path = 'qg-nothing' }
        @{ Line = 'Move-VMGuestItem -Session $S /srv/qg-a qg-b -Confirm:$false'; Path = 'qg-b' }
        @{ Line = 'Get-VMGuestItem -Session $S ./etc'; Path = './etc' }
        @{ Line = 'Get-VMGuestFileHash -Session $S etc/hostname -Algorithm sha256'; Path = 'etc/hostname' }
        @{ Line = 'Set-VMGuestItemAttribute -Session $S x.txt -Mode 420 -Confirm:$false'; Path = 'x.txt' }
        @{ Line = 'Open-VMGuestFile -Session $K notes.txt w -Confirm:$false'; Path = 'notes.txt' }
        @{ Line = 'Suspend-VMGuestMountPoint -Session $K /, srv -WhatIf'; Path = 'srv' }
        @{ Line = 'Start-VMGuestExecStream -Session $S /bin/true -WorkingDirectory tmp -Confirm:$false'; Path = 'tmp' }
        @{ Line = 'Get-VMGuestChildItem -Session $K etc'; Path = 'etc' }
        @{ Line = 'Copy-VMGuestFile -Session $K -GuestToLocal etc/hostname $T/'; Path = 'etc/hostname' }
    ) {
        $null = Invoke-Expression "$Line -ErrorVariable err -ErrorAction SilentlyContinue"
        Assert-Relative $err $Path
    }

    It 'Copy-VMGuestFile -LocalToGuest to a relative destination writes nothing (stock agent)' {
        $name = 'qg-rel-' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        Copy-VMGuestFile -Session $K -LocalToGuest "$T/local.txt" $name -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-Relative $err $name
        foreach ($d in $Landing) { Join-Path $d $name | Should -Not -Exist }
    }

    It 'a relative path among absolute ones fails alone (Copy-VMGuestFile -GuestToLocal)' {
        Set-Content "$T/guest-side.txt" 'g'
        Copy-VMGuestFile -Session $K -GuestToLocal 'rel.txt', "$T/guest-side.txt" "$T/out/" -Force -ErrorVariable err -ErrorAction SilentlyContinue
        Assert-Relative $err 'rel.txt'
        "$T/out/guest-side.txt" | Should -Exist
    }

    It 'the message shows a path with control characters escaped' {
        New-VMGuestDirectory -Session $S "x`e]0;t`a" -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].Exception.Message | Should -Not -Match "[`e`a]"
        $err[0].Exception.Message | Should -BeLike '*x\u001b]0;t\u0007*'
    }

    It 'generated help says which parameters take an absolute guest path' {
        (Get-Help Remove-VMGuestItem -Parameter Path).Description.Text | Should -Match 'absolute guest path'
    }
}

Describe 'Completion of guest paths' {
    BeforeAll {
        $script:Marker = 'qg-complete-' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        foreach ($s in $S, $K) {
            Copy-VMGuestFile -Session $s -LocalToGuest "$T/local.txt" "/srv/$Marker/inner.txt" -Force
        }
        "/srv/$Marker" | Should -Not -Exist -Because 'the guests'' /srv is their own'
    }

    It '-Source with -GuestToLocal completes from the <Name> guest' -ForEach @(
        @{ Name = 'QemuGuest'; Var = 'S' }, @{ Name = 'stock'; Var = 'K' }
    ) {
        $r = TabExpansion2 -inputScript "Copy-VMGuestFile -Session `$$Var -GuestToLocal -Source /srv/qg-complete-" -cursorColumn ("Copy-VMGuestFile -Session `$$Var -GuestToLocal -Source /srv/qg-complete-").Length
        $r.CompletionMatches.CompletionText | Should -Contain "/srv/$Marker/"
        $inner = TabExpansion2 -inputScript "Copy-VMGuestFile -Session `$$Var -GuestToLocal -Source /srv/$Marker/i" -cursorColumn ("Copy-VMGuestFile -Session `$$Var -GuestToLocal -Source /srv/$Marker/i").Length
        $inner.CompletionMatches.CompletionText | Should -Be @("/srv/$Marker/inner.txt")
    }

    It '-Destination with -LocalToGuest completes from the guest; -Source with -LocalToGuest from this machine' {
        $line = "Copy-VMGuestFile -Session `$S -LocalToGuest $T/local.txt -Destination /srv/qg-complete-"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain "/srv/$Marker/"
        $local = "Copy-VMGuestFile -Session `$S -LocalToGuest -Source /srv/qg-complete-"
        (TabExpansion2 -inputScript $local -cursorColumn $local.Length).CompletionMatches.CompletionText | Should -Not -Contain "/srv/$Marker/"
        $local2 = "Copy-VMGuestFile -Session `$S -LocalToGuest -Source $T/loc"
        (TabExpansion2 -inputScript $local2 -cursorColumn $local2.Length).CompletionMatches.CompletionText | Should -Contain "$T/local.txt"
    }

    It 'guest names with quotes, typographic quotes, $( ), backticks and spaces complete quoted, each parsing back to exactly its path; names with a newline or ESC are not offered' {
        $names = @("it's", "smart`u{2018}quote`u{2019}", 'sub$(touch pwned)', 'back`tick', 'semi;colon', 'sp ace', 'plain.txt', "new`nline", "esc`e[31mred")
        $folder = "/srv/qg-hostile-$Marker/"
        $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList (@('-c', 'mkdir -p "$0" && cd "$0" && touch -- "$@"', $folder) + $names)
        $r.ExitCode | Should -Be 0
        $line = "Copy-VMGuestFile -Session `$S -GuestToLocal -Source $folder"
        $texts = @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText)
        $values = foreach ($text in $texts) {
            $errors = $null
            $ast = [Management.Automation.Language.Parser]::ParseInput("Write-Output $text", [ref] $null, [ref] $errors)
            $errors | Should -BeNullOrEmpty -Because $text
            $element = $ast.EndBlock.Statements[0].PipelineElements[0].CommandElements[1]
            $element | Should -BeOfType ([Management.Automation.Language.StringConstantExpressionAst]) -Because $text
            $element.Value
        }
        ($values | Sort-Object) | Should -Be (@($names[0..6] | ForEach-Object { $folder + $_ }) | Sort-Object)
    }

    It 'an unreachable VM completes nothing (no error, no local names)' {
        $line = 'Copy-VMGuestFile -VMName no-such-vm-qg -GuestToLocal -Source /srv/'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | Should -BeNullOrEmpty
    }
}
